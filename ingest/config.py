"""Settings from environment variables (and an optional .env file), checked once at start."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.crawlers.client_ip import PEER_ONLY, ProxyTrust
from ingest.secret_strength import weak_secrets
from ingest.storage.sql import Location, is_postgres_url

log = logging.getLogger("optiview.config")

ENVIRONMENTS = ("development", "production")
DEFAULT_DB = "./data/optiview.db"
DEV_SECRETS_FILE = ".optiview-dev-secrets.json"
SYNCHRONOUS_MODES = ("NORMAL", "FULL")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
WRITER_MODES = ("process", "inline")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class CollectorSettings:
    batch_events: int = 500
    # 0: flush as soon as the writer is free; what arrives meanwhile forms the next batch.
    flush_interval_ms: float = 0.0
    max_pending_events: int = 20_000
    rate_limit_per_key: float = 1000.0  # requests per second per key and worker; 0 turns it off
    rate_limit_burst: float = 2000.0
    auth_cache_ttl_ms: int = 2000
    browser_body_limit: int = 64 * 1024
    server_body_limit: int = 1024 * 1024
    country_header: str | None = None  # e.g. CF-IPCountry, only behind a CDN that sets it
    # Rate limits shared by every node through this Redis; None: each process limits on its own.
    redis_url: str | None = None
    # SQLite under `optiview serve`: "process" commits for every worker in a writer process
    # of its own (ingest/writer), "inline" in each worker. PostgreSQL always commits inline.
    writer: str = "process"
    # The writer process's socket, set by `serve` for its workers; None: commit inline.
    writer_socket: str | None = None
    # How long `serve` waits for the writer process to accept, at start and at each restart.
    writer_ready_timeout_s: float = 30.0
    # Which header names the client's address, and the proxies it is believed from
    # (OPTIVIEW_CLIENT_IP_HEADER, OPTIVIEW_TRUSTED_PROXIES); by default the TCP peer only.
    client_ip: ProxyTrust = PEER_ONLY


@dataclass(frozen=True)
class AlertSettings:
    """The runbook's thresholds (step 9) unless configured."""

    error_rate: float = 0.01  # a fraction: 0.01 is 1%
    p95_ms: float = 200.0
    min_requests: int = 500
    window_minutes: int = 5
    cron_stall_minutes: int = 90
    dedup_minutes: int = 15


@dataclass(frozen=True)
class ServerSettings:
    """What one connection may take from the HTTP server (docs/deployment.md, "Limits")."""

    # From connection start, or the end of the previous response, to the end of the headers.
    header_timeout_s: float = 5.0
    # From the end of the headers to the end of the body.
    body_timeout_s: float = 10.0
    max_header_bytes: int = 16 * 1024  # request line and headers together
    max_connections: int | None = None  # per process; None: the open-file limit less a reserve


@dataclass(frozen=True)
class Settings:
    env: str
    db: Location  # a SQLite path or a postgresql:// URL (storage/sql.py)
    admin_token: str
    key_hash_secret: bytes
    slack_webhook_url: str | None
    public_url: str | None
    sqlite_synchronous: str
    busy_timeout_ms: int
    # PostgreSQL: off acknowledges before the commit reaches the server's disk (faster; a
    # server crash may lose the last commits, never corrupt). On by default: 202 means stored.
    pg_synchronous_commit: bool
    collector: CollectorSettings
    scheduler: bool
    scheduler_tick_s: float
    stats_cache_ms: int
    alerts: AlertSettings
    server: ServerSettings
    # Where development secrets were generated instead of configured (None when configured).
    dev_secrets_file: Path | None
    # Refreshed crawler range lists and key directories (`optiview crawlers refresh`).
    crawler_data: Path = Path("data/crawlers")

    @property
    def production(self) -> bool:
        return self.env == "production"


def load_env_file() -> None:
    """Read ./.env (or OPTIVIEW_ENV_FILE) into the environment; the environment wins."""
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("OPTIVIEW_ENV_FILE", ".env"), override=False)


def database_location(environ: Mapping[str, str] | None = None) -> Location:
    """OPTIVIEW_DB: a postgresql:// URL, else a SQLite path (the default is relative to the
    current folder); also read on its own, before the settings, by commands that must check
    the file before anything is written."""
    env_vars = os.environ if environ is None else environ
    raw = env_vars.get("OPTIVIEW_DB", "").strip() or DEFAULT_DB
    if is_postgres_url(raw):
        return raw
    if "://" in raw:
        # Taken as a path, a URL would quietly become a SQLite file in a folder named "mysql:".
        scheme = raw.split("://", 1)[0]
        raise ConfigError(
            f"OPTIVIEW_DB is a {scheme} URL: the service stores in SQLite (a file path) or"
            " PostgreSQL (postgresql://user@host:port/database)"
        )
    return Path(raw)


def crawler_data_location(environ: Mapping[str, str] | None = None) -> Path:
    """OPTIVIEW_CRAWLER_DATA, else `crawlers/` beside the SQLite database (./data/crawlers
    with PostgreSQL); read on its own by `optiview crawlers`, which needs no other setting."""
    env_vars = os.environ if environ is None else environ
    raw = env_vars.get("OPTIVIEW_CRAWLER_DATA", "").strip()
    if raw:
        return Path(raw)
    db = database_location(env_vars)
    home = Path(DEFAULT_DB) if is_postgres_url(db) else Path(db)
    return home.parent / "crawlers"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    # Imported here: the parser loads starlette, which `optiview --help` and the commands
    # that read no settings (secrets, crawlers) would load for nothing.
    from ingest.collect.parse import MAX_EVENTS

    env_vars = os.environ if environ is None else environ
    env = env_vars.get("OPTIVIEW_ENV", "development").strip().lower() or "development"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"OPTIVIEW_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    db = database_location(env_vars)
    admin_token = env_vars.get("OPTIVIEW_ADMIN_TOKEN", "").strip()
    key_hash_secret = env_vars.get("KEY_HASH_SECRET", "").strip()

    synchronous = env_vars.get("OPTIVIEW_SQLITE_SYNCHRONOUS", "NORMAL").strip().upper()
    if synchronous not in SYNCHRONOUS_MODES:
        raise ConfigError(
            f"OPTIVIEW_SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {synchronous!r}"
        )
    busy_timeout_ms = _positive_int(env_vars, "OPTIVIEW_BUSY_TIMEOUT_MS", 5000)
    collector = _collector_settings(env_vars)
    if collector.max_pending_events < MAX_EVENTS:
        raise ConfigError(
            f"OPTIVIEW_QUEUE_MAX_EVENTS must be at least {MAX_EVENTS}"
            f" (one full request), not {collector.max_pending_events}"
        )

    # Every check runs before development secrets are written, so a bad setting leaves no file.
    dev_secrets_file = None
    if env == "production":
        missing = [
            name
            for name, value in (
                ("KEY_HASH_SECRET", key_hash_secret),
                ("OPTIVIEW_ADMIN_TOKEN", admin_token),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "OPTIVIEW_ENV=production refuses to start without "
                + " and ".join(missing)
                + ": set "
                + ("it" if len(missing) == 1 else "them")
                + " in the environment"
            )
        weak = weak_secrets(
            {"OPTIVIEW_ADMIN_TOKEN": admin_token, "KEY_HASH_SECRET": key_hash_secret}
        )
        if weak:
            raise ConfigError(
                "OPTIVIEW_ENV=production refuses weak secrets: "
                + "; ".join(weak)
                + ". Print strong ones with `optiview secrets`"
            )
    elif not (admin_token and key_hash_secret):
        # Beside the SQLite file; with PostgreSQL, in the default data folder.
        home = Path(DEFAULT_DB) if is_postgres_url(db) else Path(db)
        dev_secrets_file = home.parent / DEV_SECRETS_FILE
        generated = _dev_secrets(dev_secrets_file)
        admin_token = admin_token or generated["admin_token"]
        key_hash_secret = key_hash_secret or generated["key_hash_secret"]

    return Settings(
        env=env,
        db=db,
        admin_token=admin_token,
        key_hash_secret=key_hash_secret.encode(),
        slack_webhook_url=env_vars.get("SLACK_WEBHOOK_URL", "").strip() or None,
        public_url=(env_vars.get("OPTIVIEW_PUBLIC_URL", "").strip().rstrip("/") or None),
        sqlite_synchronous=synchronous,
        busy_timeout_ms=busy_timeout_ms,
        pg_synchronous_commit=_switch(env_vars, "OPTIVIEW_PG_SYNCHRONOUS_COMMIT", default=True),
        collector=collector,
        scheduler=_switch(env_vars, "OPTIVIEW_SCHEDULER", default=True),
        scheduler_tick_s=_number(env_vars, "OPTIVIEW_SCHEDULER_TICK_S", 30.0),
        stats_cache_ms=int(
            _number(env_vars, "OPTIVIEW_STATS_CACHE_MS", 5000, zero=True, whole=True)
        ),
        alerts=_alert_settings(env_vars),
        server=load_server_settings(env_vars),
        dev_secrets_file=dev_secrets_file,
        crawler_data=crawler_data_location(env_vars),
    )


def _collector_settings(env_vars: Mapping[str, str]) -> CollectorSettings:
    defaults = CollectorSettings()
    rate = _number(env_vars, "OPTIVIEW_RATE_LIMIT_PER_KEY", defaults.rate_limit_per_key, zero=True)
    return CollectorSettings(
        batch_events=_positive_int(env_vars, "OPTIVIEW_BATCH_EVENTS", defaults.batch_events),
        flush_interval_ms=_number(
            env_vars, "OPTIVIEW_FLUSH_INTERVAL_MS", defaults.flush_interval_ms, zero=True
        ),
        max_pending_events=_positive_int(
            env_vars, "OPTIVIEW_QUEUE_MAX_EVENTS", defaults.max_pending_events
        ),
        rate_limit_per_key=rate,
        rate_limit_burst=_number(env_vars, "OPTIVIEW_RATE_LIMIT_BURST", max(2 * rate, 1)),
        auth_cache_ttl_ms=_positive_int(
            env_vars, "OPTIVIEW_AUTH_CACHE_TTL_MS", defaults.auth_cache_ttl_ms
        ),
        browser_body_limit=_positive_int(
            env_vars, "OPTIVIEW_BROWSER_BODY_LIMIT", defaults.browser_body_limit
        ),
        server_body_limit=_positive_int(
            env_vars, "OPTIVIEW_SERVER_BODY_LIMIT", defaults.server_body_limit
        ),
        country_header=env_vars.get("OPTIVIEW_COUNTRY_HEADER", "").strip().lower() or None,
        redis_url=_redis_url(env_vars),
        writer=_writer_mode(env_vars),
        writer_socket=env_vars.get("OPTIVIEW_WRITER_SOCKET", "").strip() or None,
        writer_ready_timeout_s=_number(
            env_vars, "OPTIVIEW_WRITER_READY_TIMEOUT_S", defaults.writer_ready_timeout_s
        ),
        client_ip=_proxy_trust(env_vars),
    )


def _proxy_trust(env_vars: Mapping[str, str]) -> ProxyTrust:
    header = env_vars.get("OPTIVIEW_CLIENT_IP_HEADER", "").strip().lower()
    raw = env_vars.get("OPTIVIEW_TRUSTED_PROXIES", "").strip()
    proxies = []
    for item in raw.replace(",", " ").split():
        try:
            proxies.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"OPTIVIEW_TRUSTED_PROXIES: {item!r} is not an address or CIDR range"
                " (e.g. 10.0.0.0/8, 2001:db8::/32, 127.0.0.1)"
            ) from None
    if header and not proxies:
        raise ConfigError(
            f"OPTIVIEW_CLIENT_IP_HEADER={header} needs OPTIVIEW_TRUSTED_PROXIES, the proxies"
            " that set it: from anyone else the header could name any address"
        )
    if proxies and not header:
        raise ConfigError(
            "OPTIVIEW_TRUSTED_PROXIES is set but OPTIVIEW_CLIENT_IP_HEADER is not: name the"
            " header those proxies put the client's address in (e.g. X-Forwarded-For)"
        )
    if not header:
        return PEER_ONLY
    if not all(ch.isalnum() or ch == "-" for ch in header):
        raise ConfigError(f"OPTIVIEW_CLIENT_IP_HEADER: {header!r} is not a header name")
    return ProxyTrust(header.encode("ascii"), tuple(proxies))


def _writer_mode(env_vars: Mapping[str, str]) -> str:
    mode = env_vars.get("OPTIVIEW_WRITER", "process").strip().lower() or "process"
    if mode not in WRITER_MODES:
        raise ConfigError(f"OPTIVIEW_WRITER must be process or inline, not {mode!r}")
    return mode


def _redis_url(env_vars: Mapping[str, str]) -> str | None:
    url = env_vars.get("OPTIVIEW_REDIS_URL", "").strip()
    if url and not url.startswith(REDIS_SCHEMES):
        raise ConfigError(
            "OPTIVIEW_REDIS_URL must start with redis://, rediss:// or unix://"
            " (e.g. redis://127.0.0.1:6379/0)"
        )
    return url or None


def load_server_settings(env_vars: Mapping[str, str]) -> ServerSettings:
    """Also read on its own by each server worker, which builds no full Settings."""
    d = ServerSettings()
    connections = env_vars.get("OPTIVIEW_MAX_CONNECTIONS", "").strip()
    return ServerSettings(
        header_timeout_s=_number(env_vars, "OPTIVIEW_HEADER_TIMEOUT_S", d.header_timeout_s),
        body_timeout_s=_number(env_vars, "OPTIVIEW_BODY_TIMEOUT_S", d.body_timeout_s),
        max_header_bytes=_positive_int(env_vars, "OPTIVIEW_MAX_HEADER_BYTES", d.max_header_bytes),
        max_connections=_positive_int(env_vars, "OPTIVIEW_MAX_CONNECTIONS", 1)
        if connections
        else None,
    )


def _alert_settings(env_vars: Mapping[str, str]) -> AlertSettings:
    d = AlertSettings()
    rate = _number(env_vars, "OPTIVIEW_ALERT_ERROR_RATE", d.error_rate)
    if rate >= 1:
        raise ConfigError(f"OPTIVIEW_ALERT_ERROR_RATE is a fraction (0.01 is 1%), not {rate}")
    return AlertSettings(
        error_rate=rate,
        p95_ms=_number(env_vars, "OPTIVIEW_ALERT_P95_MS", d.p95_ms),
        min_requests=_positive_int(env_vars, "OPTIVIEW_ALERT_MIN_REQUESTS", d.min_requests),
        window_minutes=_positive_int(env_vars, "OPTIVIEW_ALERT_WINDOW_MINUTES", d.window_minutes),
        cron_stall_minutes=_positive_int(
            env_vars, "OPTIVIEW_ALERT_CRON_STALL_MINUTES", d.cron_stall_minutes
        ),
        dedup_minutes=_positive_int(env_vars, "OPTIVIEW_ALERT_DEDUP_MINUTES", d.dedup_minutes),
    )


def _switch(env_vars: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env_vars.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, not {raw!r}")


def _positive_int(env_vars: Mapping[str, str], name: str, default: int) -> int:
    return int(_number(env_vars, name, default, whole=True))


def _number(
    env_vars: Mapping[str, str],
    name: str,
    default: float,
    *,
    zero: bool = False,
    whole: bool = False,
) -> float:
    raw = env_vars.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from None
    if value < 0 or (value == 0 and not zero):
        bound = "0 or more" if zero else "greater than 0"
        raise ConfigError(f"{name} must be {bound}, not {raw}")
    return value


def _dev_secrets(path: Path) -> dict[str, str]:
    """Read, or create once, the development secrets kept beside the database.

    Kept on disk so that keys issued before a restart still verify. Created with O_EXCL so that
    several workers starting together agree on one file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = {
        "key_hash_secret": secrets.token_hex(32),
        "admin_token": secrets.token_urlsafe(24),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            json.dump(fresh, out)
        log.warning(
            "development mode: generated KEY_HASH_SECRET and OPTIVIEW_ADMIN_TOKEN in %s; "
            "set both in the environment for production",
            path,
        )
    try:
        stored = json.loads(path.read_text())
        return {
            "key_hash_secret": str(stored["key_hash_secret"]),
            "admin_token": str(stored["admin_token"]),
        }
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"development secrets file {path} is unreadable ({exc}); delete it to regenerate"
        ) from exc
