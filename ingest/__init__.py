"""Optiview Edge: the ingestion service (collector, admin API, health, CLI)."""

__version__ = "0.1.0"
