"""Every environment variable the service reads is a row of docs/configuration.md, and every
row names a variable the service reads: a setting added in the code without its line in the
docs (or a row left behind by a removed setting) fails here.

The reads are found in the source's syntax tree, not by a list kept here: a call
`<environ>.get(NAME, ...)` on `os.environ`, `environ` or `env_vars`, `os.getenv(NAME)`,
`os.environ[NAME]`, the settings helpers `_number/_positive_int/_switch(env_vars, NAME, ...)`,
and every string literal `OPTIVIEW_...`. NAME may be a literal or a module constant
(`NODE_SETTING = "OPTIVIEW_NODE"`), resolved across the scanned packages.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# The service's packages: what `optiview` and `python -m purge|alerts` run.
PACKAGES = ("ingest", "purge", "alerts", "tag")
ENVIRON_NAMES = {"environ", "env_vars"}
SETTING_HELPERS = {"_number", "_positive_int", "_switch"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
OPTIVIEW_LITERAL = re.compile(r"OPTIVIEW_[A-Z0-9_]+")
# prometheus_client's own variable: `optiview serve` sets it for its workers (a folder of its
# own per server, ingest/server/metrics_dir.py); it is not a setting for the operator.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}
TABLE_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)


def _sources() -> list[ast.Module]:
    return [
        ast.parse(path.read_text(), str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def _constants(trees: list[ast.Module]) -> dict[str, str]:
    """Module-level `NAME = "VALUE"` string constants of every scanned module."""
    found: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found[node.targets[0].id] = node.value.value
    return found


def _is_environ(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ENVIRON_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _name_of(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _setting_argument(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable, when `node` reads one from the environment."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        environ_get = node.func.attr == "get" and _is_environ(node.func.value)
        if environ_get or node.func.attr == "getenv":
            return node.args[0]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in SETTING_HELPERS
        and len(node.args) >= 2
    ):
        return node.args[1]
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    return None


def read_settings(trees: list[ast.Module]) -> set[str]:
    constants = _constants(trees)
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if OPTIVIEW_LITERAL.fullmatch(node.value):
                    names.add(node.value)
                continue
            argument = _setting_argument(node)
            name = None if argument is None else _name_of(argument, constants)
            if name is not None and ENV_NAME.match(name):
                names.add(name)
    return names - NOT_SETTINGS


def documented() -> set[str]:
    return set(TABLE_ROW.findall(CONFIGURATION.read_text()))


def test_the_scan_finds_each_way_a_setting_is_read() -> None:
    # One of each shape, so that a scan broken into finding nothing cannot pass below.
    found = read_settings(_sources())
    assert "KEY_HASH_SECRET" in found  # env_vars.get("KEY_HASH_SECRET", "")
    assert "SLACK_WEBHOOK_URL" in found  # env_vars.get, no OPTIVIEW_ prefix
    assert "OPTIVIEW_HEADER_TIMEOUT_S" in found  # _number(env_vars, NAME, ...)
    assert "OPTIVIEW_NODE" in found  # os.environ.get(NODE_SETTING): a module constant
    assert "OPTIVIEW_ENV_FILE" in found  # os.environ.get("OPTIVIEW_ENV_FILE", ".env")
    assert "PROMETHEUS_MULTIPROC_DIR" not in found


def test_the_scan_resolves_constants_and_helpers() -> None:
    tree = ast.parse(
        "import os\n"
        'SETTING = "SOME_SETTING"\n'
        "def f(env_vars):\n"
        "    os.environ.get(SETTING)\n"
        '    _switch(env_vars, "OTHER_SWITCH", default=True)\n'
        '    os.environ["THIRD_ONE"]\n'
        '    {}.get("NOT_READ")\n'
    )
    assert read_settings([tree]) == {"SOME_SETTING", "OTHER_SWITCH", "THIRD_ONE"}


def test_every_setting_read_in_the_code_is_documented() -> None:
    missing = sorted(read_settings(_sources()) - documented())
    assert not missing, (
        f"settings read in the code but not a row of {CONFIGURATION.name}'s tables: {missing}"
    )


def test_every_documented_setting_is_read_in_the_code() -> None:
    stale = sorted(documented() - read_settings(_sources()))
    assert not stale, f"rows of {CONFIGURATION.name} that no code reads: {stale}"
