"""The OpenAPI 3.1 document of the HTTP API, built from the code's own tables and limits."""

from ingest.openapi.document import build_document

__all__ = ["build_document"]
