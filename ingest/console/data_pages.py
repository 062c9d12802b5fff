"""The console's data pages (runbook step 8), for the console's Mount to include."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ingest.console.content import content_page
from ingest.console.conversions import conversions_page
from ingest.console.events import events_page
from ingest.console.journeys import journeys_page
from ingest.console.referrals import referrals_page
from ingest.console.visibility import visibility_page


def data_routes() -> list[BaseRoute]:
    return [
        Route("/projects/{project_id}/events", events_page, methods=["GET"]),
        Route("/projects/{project_id}/content", content_page, methods=["GET"]),
        Route("/projects/{project_id}/journeys", journeys_page, methods=["GET"]),
        Route("/projects/{project_id}/referrals", referrals_page, methods=["GET"]),
        Route("/projects/{project_id}/visibility", visibility_page, methods=["GET"]),
        Route("/projects/{project_id}/conversions", conversions_page, methods=["GET"]),
    ]
