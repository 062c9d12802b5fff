"""How fast does `optiview logs import` read an nginx log? Lines per second, end to end.

Writes a realistic nginx `combined` file (mostly people, with their pages' assets; some
search bots, scripts and AI crawlers, a few from their operators' published ranges; a few
broken lines), provisions a property on a fresh SQLite database, and imports the file with
`optiview logs import` in this process, twice: the first run stores the bots' hits, the
second finds them all stored already. Reports lines/s of each (the target is 50,000): end to
end, the interpreter's and the modules' start-up included, and by the command's own count.

    python -m loadtests.bench_logs [--lines 500000] [--gzip] [--stores-in-flight N]
                                   [--out loadtests/out]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loadtests.service import HERE, machine

TARGET_LINES_PER_S = 50_000
DOMAIN = "shop-bench.com"
START_S = 1_764_547_200  # 2025-12-01T00:00:00Z
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)
# (user agent, addresses it comes from): a crawler from its operator's ranges or elsewhere.
BOTS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "66.249.66.1"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "157.55.39.1"),
    ("curl/8.5.0", "198.51.100.20"),
    ("python-requests/2.32.3", "198.51.100.21"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "198.51.100.22"),
)
AI_CRAWLERS = (
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2;"
     " +https://openai.com/gptbot", "132.196.86.5"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2;"
     " +https://openai.com/gptbot", "93.184.216.34"),  # a claim from elsewhere: fails
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0;"
     " +https://openai.com/bot", "13.65.138.113"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0;"
     " +claudebot@anthropic.com)", "198.51.100.30"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0;"
     " +https://perplexity.ai/perplexitybot)", "18.97.9.97"),
)  # fmt: skip
PAGES = (
    ["/", "/pricing", "/about", "/contact"]
    + [f"/blog/post-{n}" for n in range(300)]
    + [f"/docs/guide/{n}" for n in range(200)]
    + [f"/products/item-{n}" for n in range(500)]
)
ASSETS = ("/static/app.js", "/static/app.css", "/img/logo.png", "/fonts/inter.woff2")
CRAWLER_FILES = ("/robots.txt", "/llms.txt", "/sitemap.xml", "/docs/guide/1.md")


def clf(second: int) -> str:
    moment = time.gmtime(START_S + second)
    return (
        f"{moment.tm_mday:02d}/{MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )


def line(ip: str, second: int, method: str, path: str, status: int, ref: str, ua: str) -> str:
    size = 512 + len(path) * 37
    return f'{ip} - - [{clf(second)}] "{method} {path} HTTP/1.1" {status} {size} "{ref}" "{ua}"\n'


def generate(count: int, seed: int = 15) -> Iterator[str]:
    """About 78% people (a page, often with its assets), 12% bots, 8% AI crawlers, 2% other
    (posts, 404s, broken lines); one day of traffic, in time order."""
    rng = random.Random(seed)
    made = 0
    while made < count:
        second = made * 86_400 // count
        draw = rng.random()
        if draw < 0.78:
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            ua = rng.choice(BROWSERS)
            page = rng.choice(PAGES)
            ref = rng.choice(("-", "https://www.google.com/", f"https://{DOMAIN}/", "-"))
            chunk = [line(ip, second, "GET", page, 200, ref, ua)]
            if rng.random() < 0.5:
                chunk += [
                    line(ip, second, "GET", asset, 200, f"https://{DOMAIN}{page}", ua)
                    for asset in rng.sample(ASSETS, 2)
                ]
        elif draw < 0.90:
            ua, ip = rng.choice(BOTS)
            path = rng.choice(PAGES + list(CRAWLER_FILES))
            chunk = [line(ip, second, "GET", path, 200, "-", ua)]
        elif draw < 0.98:
            ua, ip = rng.choice(AI_CRAWLERS)
            path = rng.choice(PAGES + list(CRAWLER_FILES) * 20)
            status = 404 if path == "/llms.txt" else 200
            chunk = [line(ip, second, "GET", path, status, "-", ua)]
        else:
            kind = rng.random()
            if kind < 0.4:
                chunk = [line("10.0.0.9", second, "POST", "/contact", 303, "-", BROWSERS[0])]
            elif kind < 0.8:
                chunk = [line("10.0.0.9", second, "GET", "/nope", 404, "-", BROWSERS[1])]
            else:
                chunk = ["\\x16\\x03\\x01 garbage from a TLS probe\n"]
        yield from chunk[: count - made]
        made += len(chunk[: count - made])


def write_file(path: Path, count: int, compress: bool) -> None:
    raw = path.open("wb")
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        sink = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="wb")) if compress else raw
        out = stack.enter_context(io.TextIOWrapper(sink, encoding="utf-8"))
        out.writelines(generate(count))


def optiview(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        env=env, capture_output=True, text=True, check=True, cwd=HERE.parent,
    )  # fmt: skip
    return done.stdout.strip()


def provision(env: dict[str, str]) -> int:
    optiview("migrate", env=env)
    org = optiview("org", "create", "--name", "Bench", "--domain", DOMAIN, "--plan", "pro",
                   "--field", "id", env=env)  # fmt: skip
    prop = optiview("project", "create", "--org", org, "--name", "Main", "--domain", DOMAIN,
                    "--field", "default_property_id", env=env)  # fmt: skip
    return int(prop)


def import_once(property_id: int, path: Path) -> tuple[float, float, str]:
    """One `optiview logs import` in this process: seconds, CPU seconds (every thread of
    this process: on a busy machine, what the import itself cost), and its summary."""
    from ingest.cli import main as optiview_main  # after the environment is set

    out = io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = optiview_main(
            ["logs", "import", "--property", str(property_id), "--format", "nginx", str(path)]
        )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"optiview logs import failed ({code})")
    return seconds, cpu, out.getvalue()


def own_rate(summary: str) -> int | None:
    """The rate the command reports itself: its lines over the import's own time, without
    the interpreter's and the modules' start-up."""
    found = re.search(r"^in [0-9.]+ s \(([0-9,]+) lines/s\)$", summary, re.MULTILINE)
    return int(found.group(1).replace(",", "")) if found else None


def counted(summary: str) -> dict[str, int]:
    found = {}
    for text in summary.splitlines():
        *name, value = text.split()
        if value.isdigit():
            found[" ".join(name)] = int(value)
    return found


def run(lines: int, compress: bool, work: Path) -> dict[str, Any]:
    db = work / "logs.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIVIEW_")}
    env.update(OPTIVIEW_DB=str(db), OPTIVIEW_ENV_FILE=os.devnull)
    property_id = provision(env)
    path = work / ("access.log.gz" if compress else "access.log")
    write_file(path, lines, compress)
    os.environ.update(OPTIVIEW_DB=str(db), OPTIVIEW_ENV_FILE=os.devnull)
    runs = {}
    for name in ("first", "again"):
        seconds, cpu, summary = import_once(property_id, path)
        runs[name] = {
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "lines_per_s": round(lines / seconds),
            "lines_per_cpu_s": round(lines / cpu),
            "command_lines_per_s": own_rate(summary),
            "summary": counted(summary),
        }
    return {
        "lines": lines,
        "gzip": compress,
        "file_bytes": path.stat().st_size,
        **runs,
        "load_average": os.getloadavg(),
        "target_lines_per_s": TARGET_LINES_PER_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--gzip", action="store_true", help="write and import a .gz file")
    parser.add_argument(
        "--stores-in-flight",
        type=int,
        help="batches stored at once (the importer's STORES_IN_FLIGHT; default its own)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args(argv)
    if args.stores_in_flight is not None:
        from ingest.logs import importer

        importer.STORES_IN_FLIGHT = args.stores_in_flight  # this process's own imports only
    args.out.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("OPTIVIEW_DB", "OPTIVIEW_ENV_FILE")}
    try:
        with tempfile.TemporaryDirectory(prefix="optiview-bench-logs-") as tmp:
            result = run(args.lines, args.gzip, Path(tmp))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    result["machine"] = machine()
    (args.out / "bench-logs.json").write_text(json.dumps(result, indent=2) + "\n")
    first, again = result["first"], result["again"]
    print(
        f"{result['lines']} nginx lines{' (gzip)' if args.gzip else ''}:"
        f" first import {first['seconds']:.2f} s = {first['lines_per_s']:,} lines/s end to end,"
        f" {first['command_lines_per_s'] or 0:,} by the command's own count (start-up aside),"
        f" {first['lines_per_cpu_s']:,} per CPU second; {first['summary'].get('stored', 0)}"
        f" stored. Again {again['seconds']:.2f} s = {again['lines_per_s']:,} lines/s"
        f" ({again['lines_per_cpu_s']:,} per CPU second;"
        f" {again['summary'].get('duplicates', 0)} duplicates)."
        f" Target {TARGET_LINES_PER_S:,} lines/s. Load average {result['load_average'][0]:.1f}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
