"""`optiview serve`: migrate, say what to open next, then run uvicorn or hypercorn."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path
from types import FrameType

from ingest.config import Settings
from ingest.cron.scheduler import Scheduler, Work
from ingest.storage.migrations import migrate_database

# prometheus_client decides at import whether it runs in multiprocess mode, so this is set
# before the app (and so prometheus_client) is imported, here or in a worker.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

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
        f"optiview: database {settings.db_path} ({settings.env})"
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


def metrics_dir() -> None:
    """A fresh folder for the workers' metric files, removed when the server exits."""
    if os.environ.get(MULTIPROC_ENV):
        return
    folder = tempfile.mkdtemp(prefix="optiview-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def scheduled_jobs(settings: Settings) -> dict[str, Work]:
    from alerts import runner as alerts_runner
    from purge import runner as purge_runner

    def purge(conn: sqlite3.Connection, now: int) -> None:
        with contextlib.suppress(purge_runner.AlreadyRunning):  # cron or an operator has it
            purge_runner.run_purge(conn, now)

    def alerts(conn: sqlite3.Connection, now: int) -> None:
        with contextlib.suppress(alerts_runner.AlreadyRunning):
            alerts_runner.run_alerts(
                conn, now, settings.alerts, settings.slack_webhook_url, base_url=settings.public_url
            )

    return {"purge": purge, "alerts": alerts}


def serve(
    settings: Settings, host: str, port: int, workers: int, server: str, scheduler: bool = True
) -> int:
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before the metrics folder was set")
    metrics_dir()
    applied = migrate_database(
        settings.db_path, settings.sqlite_synchronous, settings.busy_timeout_ms
    )
    print(banner(settings, host, port, applied), file=sys.stderr, flush=True)
    jobs = Scheduler(settings, scheduled_jobs(settings), settings.scheduler_tick_s)
    if scheduler and settings.scheduler:
        if not settings.slack_webhook_url:
            print("  warning:     SLACK_WEBHOOK_URL is not set: alerts are recorded, not sent",
                  file=sys.stderr)  # fmt: skip
        print("  scheduler:   purge daily, alerts every minute, in this process"
              " (OPTIVIEW_SCHEDULER=off to stop)",
              file=sys.stderr, flush=True)  # fmt: skip
        jobs.start()
    try:
        return run_server(APP_FACTORY, host, port, workers, server)
    finally:
        jobs.stop()


def run_server(factory: str, host: str, port: int, workers: int, server: str) -> int:
    """Serve the ASGI app that `factory` ("module:function") builds. The benchmarks run their
    bare baseline app through here too, so both get the same server settings."""
    if server == "hypercorn":
        return _hypercorn(factory, host, port, workers)
    import uvicorn

    # uvicorn drains on SIGTERM, then restores the handler it found and raises the signal
    # again; finding this one, the process exits 0 (and runs its atexit clean-up) instead of
    # dying by the signal.
    signal.signal(signal.SIGTERM, _stopped)

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _hypercorn(factory: str, host: str, port: int, workers: int) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = factory + "()"
    config.bind = [f"{host}:{port}"]
    config.workers = workers
    config.worker_class = "uvloop"
    config.graceful_timeout = 10
    config.loglevel = "WARNING"
    return int(run(config))
