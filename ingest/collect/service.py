"""The collector's long-lived parts for one worker process: caches, limiter, writer, rollups."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from ingest.classify.useragent import classify_user_agent
from ingest.collect.directory import Directory
from ingest.collect.invalidation import Listener
from ingest.collect.ratelimit import Limiter, RateLimiter
from ingest.collect.rollups import RollupRecorder
from ingest.collect.writer import GroupCommitWriter
from ingest.config import CollectorSettings, Settings
from ingest.crawlers import ranges, signatures
from ingest.storage.backend import Storage
from ingest.writer.client import RemoteWriter

WARM_UP_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Collector:
    settings: Settings
    directory: Directory
    limiter: Limiter
    rollups: RollupRecorder
    writer: GroupCommitWriter | RemoteWriter
    # PostgreSQL only: other nodes' changes to what the directory caches.
    listener: Listener | None = field(default=None)

    @classmethod
    def start(cls, settings: Settings, db: Storage) -> Collector:
        # ua-parser builds its resolver on first use (about 80 ms): pay that before the
        # server takes requests, not on the first ones, which would all queue behind it.
        classify_user_agent(WARM_UP_USER_AGENT)
        # The crawler range lists and key directories: read once, before the first request.
        ranges.install(settings.crawler_data)
        signatures.install(settings.crawler_data)
        tuning = settings.collector
        rollups = RollupRecorder()
        writer: GroupCommitWriter | RemoteWriter
        if tuning.writer_socket is not None and db.dialect == "sqlite":
            # `optiview serve`'s writer process commits for every worker (ingest/writer).
            writer = RemoteWriter(
                tuning.writer_socket, rollups, max_pending=tuning.max_pending_events
            )
        else:
            writer = GroupCommitWriter.tuned(db, rollups, tuning)
        writer.start()
        directory = Directory(db, ttl_s=tuning.auth_cache_ttl_ms / 1000)
        listener = None
        if db.dialect == "postgres":
            loop = asyncio.get_running_loop()

            def changed() -> None:
                # The caches belong to the event loop's thread: the forget is handed to it
                # (unless the loop has ended, RuntimeError: then nothing reads them any more).
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(directory.forget)

            listener = Listener(str(settings.db), changed)
            listener.start()
        return cls(
            settings=settings,
            directory=directory,
            limiter=limiter(tuning),
            rollups=rollups,
            writer=writer,
            listener=listener,
        )

    async def close(self) -> None:
        if self.listener is not None:
            await asyncio.to_thread(self.listener.stop)
        await self.writer.close()
        await self.limiter.close()


def limiter(tuning: CollectorSettings) -> Limiter:
    """Shared buckets when Redis is configured and limits are on, else this process's own."""
    rate, burst = tuning.rate_limit_per_key, tuning.rate_limit_burst
    if tuning.redis_url and rate > 0:
        # Imported here: the Redis client is 60 ms of every worker's start, needed by few.
        from ingest.collect.ratelimit_redis import SharedRateLimiter

        return SharedRateLimiter(tuning.redis_url, rate, burst)
    return RateLimiter(rate, burst)
