"""What to do about a refused collector request, for ?debug=1 (pure).

The detail of an error says what was wrong; the fix says what the partner or operator changes
so that the next request is accepted. Only refusals a page can cause by its install have one.
"""

from __future__ import annotations

from ingest.collect.parse import EventBatch
from ingest.domains import origin_host
from ingest.errors import ErrorCode

_SNIPPET = "optiview install --project {project} --property {property}"


def fix_for(code: ErrorCode, origin: str | None, batch: EventBatch | None) -> str | None:
    """The fix for a refusal with this code, naming the ids the request carried."""
    project = batch.project_id if batch else "<prj_… id>"
    prop = str(batch.property_id) if batch else "<property id>"
    snippet = _SNIPPET.format(project=project, property=prop)
    if code is ErrorCode.ORIGIN_NOT_ALLOWED:
        host = origin_host(origin) if origin else None
        if host is None:
            return (
                "a browser sends its page's Origin by itself (this one sent none or 'null',"
                " e.g. a file:// page or a sandboxed frame): serve the page from the"
                " property's site; a server sends Authorization: Bearer <key secret> instead"
            )
        return (
            f"add a property for {host} to project {project} (optiview property create"
            f" --project {project} --domain {host}; a host outside the project's domain needs a"
            " project of its own), create a key for it and paste that property's snippet; or,"
            f" if {host} already has a property, use that property's snippet (its"
            " data-property-id and data-key-id) instead of this one"
        )
    if code in (ErrorCode.KEY_REVOKED, ErrorCode.KEY_EXPIRED):
        return (
            f"create a new key (optiview key create --property {prop} --name 'Production"
            f" Website') and paste the snippet again ({snippet})"
        )
    if code in (ErrorCode.INVALID_KEY, ErrorCode.KEY_NOT_LINKED):
        return (
            "data-key-id, data-project-id and data-property-id must come from one snippet:"
            f" paste it again as the install prints it ({snippet})"
        )
    return None
