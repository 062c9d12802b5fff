"""The admin API: provisioning (runbook steps 1-7), install snippet, onboarding status."""
