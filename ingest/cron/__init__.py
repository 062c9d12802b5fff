"""Cron jobs' bookkeeping, shared by purge and alerts: job schedule and stall rule (pure),
heartbeats and leases (SQL), and the in-process scheduler of `optiview serve`."""
