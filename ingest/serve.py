"""`optiview serve`: migrate, say what to open next, then run uvicorn or hypercorn."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from ingest.config import Settings
from ingest.cron.scheduler import Scheduler, Work
from ingest.server import access_log as access_log_app
from ingest.server.limits import current_limits, raise_fd_limit
from ingest.server.metrics_dir import MULTIPROC_ENV, metrics_dir
from ingest.server.run import run_server
from ingest.storage.backend import migrate
from ingest.storage.sql import Conn, is_postgres_url, redacted
from ingest.writer.supervisor import WriterStartFailed, WriterSupervisor

__all__ = ["APP_FACTORY", "MULTIPROC_ENV", "SERVERS", "run_server", "serve"]

SERVERS = ("uvicorn", "hypercorn")
APP_FACTORY = "ingest.app:create_app"


def cli_path() -> str:
    """How to call optiview from the operator's shell, where the venv may not be active."""
    script = Path(sys.executable).parent / "optiview"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def banner(settings: Settings, host: str, port: int, applied: list[str]) -> str:
    base = f"http://{host}:{port}"
    lines = [
        f"optiview: database {redacted(settings.db)} ({settings.env})"
        + (f", applied {', '.join(applied)}" if applied else ", schema up to date"),
        f"optiview: serving on {base}",
        f"  health:      curl {base}/health",
    ]
    if settings.dev_secrets_file is not None:
        lines += [
            f"  admin token: generated for development in {settings.dev_secrets_file}",
            f'               export OPTIVIEW_ADMIN_TOKEN=$(python3 -c "import json;'
            f"print(json.load(open('{settings.dev_secrets_file}'))['admin_token'])\")",
        ]
    lines += [
        '  first org:   curl -X POST -H "Authorization: Bearer $OPTIVIEW_ADMIN_TOKEN" '
        f'{base}/api/admin/orgs -d \'{{"name":"Acme","domain":"acme.com","plan":"starter"}}\'',
        f"  or the CLI:  {cli_path()} org create --name Acme --domain acme.com --plan starter",
    ]
    return "\n".join(lines)


def limits_line(settings: Settings, fd_before: int, fd_limit: int) -> str:
    limits = current_limits(settings.server)
    raised = f" (raised from {fd_before})" if fd_limit != fd_before else ""
    return (
        f"  limits:      {limits.max_connections} connections per process, open files"
        f" {fd_limit}{raised}; headers {limits.max_header_bytes} bytes within"
        f" {limits.header_timeout_s:g} s, body within {limits.body_timeout_s:g} s"
    )


def scheduled_jobs(settings: Settings) -> dict[str, Work]:
    from alerts import runner as alerts_runner
    from purge import runner as purge_runner

    def purge(conn: Conn, now: int) -> None:
        with contextlib.suppress(purge_runner.AlreadyRunning):  # cron or an operator has it
            purge_runner.run_purge(conn, now)

    def alerts(conn: Conn, now: int) -> None:
        with contextlib.suppress(alerts_runner.AlreadyRunning):
            alerts_runner.run_alerts(
                conn, now, settings.alerts, settings.slack_webhook_url, base_url=settings.public_url
            )

    return {"purge": purge, "alerts": alerts}


def preload(factory: str, workers: int, server: str) -> Callable[[], object] | None:
    """What serve can do while the writer process starts: uvicorn with one worker imports the
    app in this process (about as long as the writer's own start), so import it now. Other
    servers import it in worker processes of their own, started later."""
    if server != "uvicorn" or workers > 1:
        return None
    module = factory.partition(":")[0]

    def load() -> None:
        # A module that fails to import is not cached: uvicorn imports it again and reports it.
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    return load


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    server: str,
    scheduler: bool = True,
    *,
    access_log: bool = False,
) -> int:
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before the metrics folder was set")
    metrics_dir()
    fd_before, fd_limit = raise_fd_limit()  # inherited by the workers
    applied = migrate(settings.db, settings.sqlite_synchronous, settings.busy_timeout_ms)
    print(banner(settings, host, port, applied), file=sys.stderr, flush=True)
    print(limits_line(settings, fd_before, fd_limit), file=sys.stderr, flush=True)
    if settings.production and not settings.public_url:
        print("  warning:     OPTIVIEW_PUBLIC_URL is not set: the install snippet is refused"
              " (409 not_configured) until it is", file=sys.stderr)  # fmt: skip
    jobs = Scheduler(settings, scheduled_jobs(settings), settings.scheduler_tick_s)
    if scheduler and settings.scheduler:
        if not settings.slack_webhook_url:
            print("  warning:     SLACK_WEBHOOK_URL is not set: alerts are recorded, not sent",
                  file=sys.stderr)  # fmt: skip
        print("  scheduler:   purge daily, alerts every minute, in this process"
              " (OPTIVIEW_SCHEDULER=off to stop)",
              file=sys.stderr, flush=True)  # fmt: skip
        jobs.start()
    if access_log:
        print("  access log:  one line per request on stderr (--access-log)",
              file=sys.stderr, flush=True)  # fmt: skip
    factory = access_log_app.FACTORY if access_log else APP_FACTORY
    writer = None
    if settings.collector.writer == "process" and not is_postgres_url(settings.db):
        # Before the workers, who find its socket in the environment they inherit.
        writer = WriterSupervisor(settings.collector.writer_ready_timeout_s)
        try:
            writer.start(meanwhile=preload(factory, workers, server))
        except WriterStartFailed as exc:
            jobs.stop()
            print(f"optiview: error: {exc} (its own error is above)", file=sys.stderr)
            return 1
        assert writer.process is not None
        print(f"  writer:      one process commits for every worker (pid {writer.process.pid};"
              " OPTIVIEW_WRITER=inline commits in each)", file=sys.stderr, flush=True)  # fmt: skip
    try:
        return run_server(factory, host, port, workers, server)
    finally:
        jobs.stop()
        if writer is not None:  # after the workers: it drains what they left queued
            writer.stop()
