"""Fuzzing the running service: schemathesis over the OpenAPI document, and hypothesis
generators for the collector's body. Shared by the test suite and `python -m loadtests.fuzz`."""
