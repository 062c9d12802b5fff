"""The read API (runbook step 8): time buckets, query parameters, counts and their answers."""
