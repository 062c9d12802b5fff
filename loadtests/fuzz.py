"""`python -m loadtests.fuzz --cases 100000`: the long fuzz. Starts `optiview serve` on a
fresh database (127.0.0.1 only), runs schemathesis over /openapi.json and the collector body
generator in seeded rounds until the case count is reached, and reports the cases, the 5xx
answers and the answers the document does not describe. Exit 1 unless all three are clean
and the server's log holds no traceback."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from loadtests import service
from loadtests.fuzzing.bodies import Target
from loadtests.fuzzing.collector import run_collector
from loadtests.fuzzing.openapi import run_openapi
from loadtests.fuzzing.tally import Tally

OUT = service.HERE / "out"
EXAMPLES_PER_ROUND = 200  # per operation and mode (openapi), per round
COLLECTOR_PER_ROUND = 5000


class Progress:
    def __init__(self, target: int) -> None:
        self.target = target
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, tally: Tally) -> None:
        now = time.monotonic()
        if now - self.shown < 0.5:
            return
        self.shown = now
        rate = tally.cases / max(now - self.started, 1e-9)
        sys.stderr.write(
            f"\rfuzz: {tally.cases:>7}/{self.target} cases  {tally.server_errors} 5xx  "
            f"{tally.nonconforming} not as documented  {tally.transport_errors} transport  "
            f"{rate:,.0f}/s "
        )
        sys.stderr.flush()


def known_ids(url: str, site: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {service.ADMIN_TOKEN}"}
    project = httpx.get(f"{url}/api/admin/projects/{site['project_id']}", headers=headers)
    return {
        "org_id": project.json()["org_id"],
        "project_id": site["project_id"],
        "property_id": site["property_id"],
        "key_id": site["key_id"],
    }


def fuzz(url: str, cases: int, openapi_share: float, first_seed: int) -> Tally:
    collector_site, admin_site = service.provision(url, 2)
    target = Target(**collector_site)
    ids = known_ids(url, admin_site)
    tally = Tally(on_case=Progress(cases))
    openapi_goal = int(cases * openapi_share)
    seed = first_seed
    while tally.cases < openapi_goal:
        # About 80 runs per round (operations x modes): stay near the goal.
        examples = max(1, min(EXAMPLES_PER_ROUND, (openapi_goal - tally.cases) // 80))
        run_openapi(url, service.ADMIN_TOKEN, examples, tally, seed, known_ids=ids)
        seed += 1
    while tally.cases < cases:
        examples = min(COLLECTOR_PER_ROUND, cases - tally.cases)
        run_collector(url, target, examples, tally, seed)
        seed += 1
    sys.stderr.write("\n")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="at least this many")
    parser.add_argument("--openapi-share", type=float, default=0.6, help="default 0.6")
    parser.add_argument("--seed", type=int, default=0, help="first round's seed")
    parser.add_argument("--server", choices=("uvicorn", "hypercorn"), default="uvicorn")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="optiview-fuzz-") as tmp:
        db = Path(tmp) / "optiview.db"
        log = Path(tmp) / "server.log"
        # One key takes every collector case: a rate limit would only answer 429s.
        env = service.service_env(db, ["OPTIVIEW_RATE_LIMIT_PER_KEY=0", "OPTIVIEW_SCHEDULER=off"])
        serve_args = ["--host", "127.0.0.1", "--server", args.server]
        serve_args += ["--workers", str(args.workers)]
        started = time.monotonic()
        with service.running(db, env, serve_args, log) as (url, _):
            tally = fuzz(url, args.cases, args.openapi_share, args.seed)
        elapsed = time.monotonic() - started
        server_log = log.read_text(errors="replace")
    tracebacks = server_log.count("Traceback")
    print(tally.summary())
    print(f"tracebacks in the server log: {tracebacks}")
    print(f"elapsed: {elapsed:.0f} s")
    report = {
        "cases": tally.cases,
        "server_errors": tally.server_errors,
        "nonconforming": tally.nonconforming,
        "transport_errors": tally.transport_errors,
        "tracebacks": tracebacks,
        "statuses": {str(s): n for s, n in sorted(tally.statuses.items())},
        "findings": [str(f) for f in tally.findings],
        "elapsed_s": round(elapsed),
        "seed": args.seed,
    }
    (OUT / "fuzz-report.json").write_text(json.dumps(report, indent=2))
    if tracebacks:
        print(server_log[-20_000:], file=sys.stderr)
    return 0 if tally.clean and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
