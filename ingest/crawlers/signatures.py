"""This process's Web Bot Auth checker (webbotauth.py), loaded once, and its answer reduced
to what the verdict (verify.py) needs."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ingest.crawlers.signed import SignedHit
from ingest.crawlers.verify import Signature
from ingest.crawlers.webbotauth import WebBotAuth, load


class Loaded:
    """Installed by the collector's start from the settings' data folder; anything asking
    first gets the vendored directories and the folder OPTIVIEW_CRAWLER_DATA or the database
    names."""

    checker: WebBotAuth | None = None


def install(data_dir: Path | None) -> WebBotAuth:
    Loaded.checker = load(data_dir)
    return Loaded.checker


def check(hit: SignedHit, hosts: Collection[str]) -> Signature:
    """The signature's outcome; `hosts`: the property's host names, which the signed
    authority must be one of (a genuine signature for another site proves nothing here)."""
    checker = Loaded.checker
    if checker is None:
        from ingest.config import crawler_data_location  # the settings import this package

        checker = install(crawler_data_location())
    result = checker.check(hit, hosts=hosts)
    return Signature(result.outcome, result.operator, result.reason)


__all__ = ["check", "install"]
