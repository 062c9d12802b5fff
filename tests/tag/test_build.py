import gzip

import brotli
import pytest
from calmjs.parse import es5

from tag.build import (
    GZIP_BUDGET_BYTES,
    Build,
    build_all,
    debug_javascript,
    production_javascript,
    source,
)


@pytest.fixture(scope="module")
def builds() -> dict[bool, Build]:
    return build_all()


def test_production_build_is_within_the_gzip_budget(builds: dict[bool, Build]):
    size = len(builds[False].variants["gzip"].body)
    assert size <= GZIP_BUDGET_BYTES, f"tag.js is {size} B gzipped, budget {GZIP_BUDGET_BYTES} B"


def test_builds_are_reproducible(builds: dict[bool, Build]):
    again = build_all()
    for debug in (False, True):
        for encoding, variant in builds[debug].variants.items():
            assert again[debug].variants[encoding] == variant


def test_compressed_variants_decode_to_the_same_script(builds: dict[bool, Build]):
    for built in builds.values():
        plain = built.variants["identity"].body
        assert gzip.decompress(built.variants["gzip"].body) == plain
        assert brotli.decompress(built.variants["br"].body) == plain


def test_strong_etags_differ_per_build_and_encoding(builds: dict[bool, Build]):
    etags = [v.etag for b in builds.values() for v in b.variants.values()]
    assert len(set(etags)) == 6
    assert all(tag.startswith('"') and tag.endswith('"') for tag in etags)  # strong: no W/


def test_production_has_no_debug_logging_and_debug_has_every_step(builds: dict[bool, Build]):
    production = builds[False].variants["identity"].body.decode()
    debug = builds[True].variants["identity"].body.decode()
    assert "console.log" not in production and "?debug=1" not in production
    assert "@debug" not in production and "@debug" not in debug
    for step in ("configuration read", "event queued", "sent; the collector answered", "answer"):
        assert step in debug
    assert "?debug=1" in debug


def test_both_builds_are_valid_javascript(builds: dict[bool, Build]):
    for built in builds.values():
        es5(built.variants["identity"].body.decode())


def test_unbalanced_debug_markers_fail_the_build():
    with pytest.raises(ValueError, match="unbalanced"):
        production_javascript("var a = 1;\n// @debug-start\nvar b = 2;\n")


def test_the_minifier_keeps_the_snippet_attributes():
    minified = production_javascript(source())
    for name in (
        "key-id",
        "project-id",
        "property-id",
        "clicks",
        "spa",
        "_ov_sid",
        "optiview_ignore",
    ):
        assert name in minified
    assert debug_javascript(source()).count("[optiview]") >= 2
