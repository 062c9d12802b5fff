"""Threshold alerts: rules (pure), Slack sender, deduplication and CLI entry point."""
