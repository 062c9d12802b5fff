"""What every load run shares: a service on a fresh database, provisioned sites, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ADMIN_TOKEN = "loadtest-admin-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(db: Path, extra: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """A clean configuration: only what is set here (and NAME=VALUE items in `extra`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIVIEW_", "PROMETHEUS"))}
    env.update(
        OPTIVIEW_DB=str(db),
        OPTIVIEW_ADMIN_TOKEN=ADMIN_TOKEN,
        KEY_HASH_SECRET="loadtest-key-hash-secret",
        OPTIVIEW_ENV_FILE=os.devnull,
    )
    for item in extra:
        name, equals, value = item.partition("=")
        if not equals:
            raise SystemExit(f"load: {item!r} is not NAME=VALUE")
        env[name] = value
    return env


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"load: server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"load: server did not become healthy within {timeout_s:g} s")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running(
    db: Path, env: dict[str, str], args: list[str], log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`optiview serve` on a free port for the duration of the block: (url, process)."""
    port = free_port()
    with open(log or os.devnull, "wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest", "serve", "--port", str(port), *args],
            cwd=HERE.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        stop(process)


def provision(url: str, count: int) -> list[dict[str, Any]]:
    """`count` sites, each an org, project, default property and key, via the admin API."""
    sites = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=url + "/api/admin", headers=headers, timeout=10) as admin:
        for i in range(count):
            domain = f"load-site-{i}.com"
            org = admin.post("/orgs", json={"name": f"Load {i}", "domain": domain, "plan": "pro"})
            org.raise_for_status()
            project = admin.post(
                f"/orgs/{org.json()['id']}/projects", json={"name": "Main", "domain": domain}
            ).json()
            prop = project["default_property_id"]
            key = admin.post(f"/properties/{prop}/keys", json={"name": "load"}).json()
            sites.append(
                {
                    "key_id": key["id"],
                    "secret": key["secret"],
                    "project_id": project["id"],
                    "property_id": prop,
                    "domain": domain,
                }
            )
    return sites


def write_wrk_sites(sites: list[dict[str, Any]], path: Path) -> None:
    """The sites as the wrk script reads them: key project property domain secret, a line
    each (the secret for server-to-server requests)."""
    path.write_text(
        "".join(
            f"{s['key_id']} {s['project_id']} {s['property_id']} {s['domain']} {s['secret']}\n"
            for s in sites
        )
    )


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError, StopIteration):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory_gib = 0.0
    with contextlib.suppress(OSError, StopIteration, ValueError):
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory_gib = round(kib / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_generator": "on the same machine",
    }
