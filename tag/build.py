"""Build tag.js: the production build (debug regions removed, minified by calmjs.parse) and
the debug build (readable, logging every step), each precompressed with gzip and brotli.

Reproducible: the same source and pinned minifier give the same bytes (gzip without a
timestamp), so the strong ETag changes only when the tag does. `python -m tag.build` prints
the sizes, or writes the builds with --out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import brotli
from calmjs.parse import es5
from calmjs.parse.unparsers.es5 import minify_print

# The production build must stay small: Plausible's is under 1 KB, Umami's about 3.6 KB.
GZIP_BUDGET_BYTES = 1536
DEBUG_REGION = re.compile(r"^[ \t]*// @debug-start\n.*?^[ \t]*// @debug-end\n", re.M | re.S)
DEBUG_MARKER = re.compile(r"^[ \t]*// @debug-(start|end)\n", re.M)
ENCODINGS = ("br", "gzip", "identity")


@dataclass(frozen=True)
class Variant:
    body: bytes
    etag: str


@dataclass(frozen=True)
class Build:
    """One build of the tag in every encoding we serve."""

    variants: dict[str, Variant]

    @classmethod
    def of(cls, javascript: str) -> Build:
        plain = javascript.encode()
        digest = hashlib.sha256(plain).hexdigest()[:20]
        bodies = {
            "identity": plain,
            "gzip": gzip.compress(plain, compresslevel=9, mtime=0),
            "br": brotli.compress(plain, quality=11),
        }
        # Strong ETags differ per encoding: each is a different representation.
        return cls(
            {
                encoding: Variant(body, f'"{digest}-{encoding[:2]}"')
                for encoding, body in bodies.items()
            }
        )


def source() -> str:
    return resources.files("tag").joinpath("tag.js").read_text(encoding="utf-8")


def production_javascript(text: str) -> str:
    stripped = DEBUG_REGION.sub("", text)
    if "@debug" in stripped:
        raise ValueError("unbalanced @debug-start / @debug-end markers in tag.js")
    minified: str = minify_print(es5(stripped), obfuscate=True, obfuscate_globals=False)
    return minified.strip() + "\n"


def debug_javascript(text: str) -> str:
    return DEBUG_MARKER.sub("", text)


def build_all() -> dict[bool, Build]:
    """{debug?: Build}, from the packaged source."""
    text = source()
    return {False: Build.of(production_javascript(text)), True: Build.of(debug_javascript(text))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build tag.js and report its sizes.")
    parser.add_argument("--out", type=Path, help="also write tag.js and tag.debug.js here")
    args = parser.parse_args(argv)
    builds = build_all()
    for debug, built in builds.items():
        sizes = ", ".join(f"{enc} {len(v.body)} B" for enc, v in built.variants.items())
        print(f"tag{'.debug' if debug else ''}.js: {sizes}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            name = "tag.debug.js" if debug else "tag.js"
            (args.out / name).write_bytes(built.variants["identity"].body)
    gzipped = len(builds[False].variants["gzip"].body)
    print(f"production build gzipped: {gzipped} of {GZIP_BUDGET_BYTES} B budget")
    return 0 if gzipped <= GZIP_BUDGET_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
