"""`optiview serve`: migrate, say what to open next, then run uvicorn or hypercorn."""

from __future__ import annotations

import sys

from ingest.app import migrate
from ingest.config import Settings

SERVERS = ("uvicorn", "hypercorn")
APP_FACTORY = "ingest.app:create_app"


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
        "  or the CLI:  optiview org create --name Acme --domain acme.com --plan starter",
    ]
    return "\n".join(lines)


def serve(settings: Settings, host: str, port: int, workers: int, server: str) -> int:
    applied = migrate(settings)
    print(banner(settings, host, port, applied), file=sys.stderr, flush=True)
    if server == "hypercorn":
        return _hypercorn(host, port, workers)
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
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


def _hypercorn(host: str, port: int, workers: int) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = APP_FACTORY + "()"
    config.bind = [f"{host}:{port}"]
    config.workers = workers
    config.worker_class = "uvloop"
    config.graceful_timeout = 10
    config.loglevel = "WARNING"
    return int(run(config))
