"""Locust files and the benchmark harness."""
