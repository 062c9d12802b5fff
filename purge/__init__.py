"""Retention purge: policy (pure), runner and CLI entry point."""
