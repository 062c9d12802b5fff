"""Cached reads the collector makes per request: key grants, property domains, enabled sources.

Bounded TTL caches, so a revocation through the admin API of any worker is honoured within
the TTL (2 s by default, well inside the 5 s promise); misses are cached too, so a flood of
unknown keys costs one query per key per TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cachetools import TTLCache

from ingest.collect.authorize import Grant, Site
from ingest.metrics import CACHE_LOOKUPS
from ingest.storage.backend import Storage
from ingest.storage.sql import Conn

T = TypeVar("T")
CACHE_SIZE = 10_000

_GRANT = """SELECT k.id, k.property_id, p.project_id, k.status, k.expires_at, k.secret_hash,
    p.domain, p.active
    FROM api_keys AS k JOIN properties AS p ON p.id = k.property_id WHERE k.id = ?"""


class Directory:
    def __init__(self, db: Storage, ttl_s: float, size: int = CACHE_SIZE) -> None:
        self._db = db
        self._grants: TTLCache[str, Grant | None] = TTLCache(size, ttl_s)
        self._sources: TTLCache[str, frozenset[str]] = TTLCache(size, ttl_s)
        self._domains: TTLCache[str, Site] = TTLCache(size, ttl_s)
        self._hits = {name: CACHE_LOOKUPS.labels(name, "hit") for name in _CACHES}
        self._misses = {name: CACHE_LOOKUPS.labels(name, "miss") for name in _CACHES}

    async def _cached(
        self,
        name: str,
        cache: TTLCache[str, T],
        key: str,
        load: Callable[[Conn], T],
    ) -> T:
        try:
            value = cache[key]
        except KeyError:
            self._misses[name].inc()
            value = await self._db.read(load)
            cache[key] = value
            return value
        self._hits[name].inc()
        return value

    async def grant(self, key_id: str) -> Grant | None:
        def load(conn: Conn) -> Grant | None:
            row = conn.execute(_GRANT, (key_id,)).fetchone()
            if row is None:
                return None
            key, prop, project, status, expires_at, secret_hash, domain, active = row
            return Grant(key, prop, project, status, expires_at, secret_hash, domain, bool(active))

        return await self._cached("key", self._grants, key_id, load)

    async def enabled_sources(self, project_id: str) -> frozenset[str]:
        def load(conn: Conn) -> frozenset[str]:
            sql = "SELECT source FROM project_ai_sources WHERE project_id = ? AND enabled = 1"
            return frozenset(row[0] for row in conn.execute(sql, (project_id,)))

        return await self._cached("sources", self._sources, project_id, load)

    async def site(self, host: str) -> Site:
        """The properties on this host: whether one is active, and which are deactivated."""

        def load(conn: Conn) -> Site:
            sql = "SELECT id, active FROM properties WHERE domain = ? ORDER BY id"
            rows = conn.execute(sql, (host,)).fetchall()
            return Site(
                active=any(active for _, active in rows),
                inactive=tuple(prop for prop, active in rows if not active),
            )

        return await self._cached("domain", self._domains, host, load)

    async def is_property_domain(self, host: str) -> bool:
        """Whether any active property is on this host (for preflights, before a body)."""
        return (await self.site(host)).active

    def forget(self) -> None:
        """Drop everything cached: this process just changed keys, properties or sources."""
        self._grants.clear()
        self._sources.clear()
        self._domains.clear()


_CACHES = ("key", "sources", "domain")
