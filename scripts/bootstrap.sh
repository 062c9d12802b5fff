# Sourced by scripts/serve and scripts/test: make .venv and install the pinned dependencies.
# Re-installs only when pyproject.toml or constraints.txt changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OPTIVIEW_VENV:-$ROOT/.venv}"

pick_python() {
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "optiview: Python 3.11 or newer is required and was not found on PATH" >&2
  exit 1
}

say() { echo "optiview: $*" >&2; }

# pip's own progress goes to stderr (a line per package; download bars on a terminal), so
# that the command's stdout stays its own; a failure says so in a line of ours.
pip_install() {
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >&2; then
    say "error: pip failed (its output is above); fix the cause and run this again"
    return 1
  fi
}

bootstrap() {  # $1: the extras to install, e.g. "" or "[dev]"
  local extras="${1:-}"
  local started=$SECONDS
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(pick_python)"
    say "creating the virtual environment $VENV with $("$python" --version 2>&1)"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      # Debian's python3 ships venv separately; as root we can add it.
      say "venv module missing, installing python3-venv (apt-get)"
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$VENV"
    fi
  fi
  local stamp="$VENV/.optiview-installed"
  local want
  want="$extras $(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || ! grep -qxF -- "$want" "$stamp"; then
    say "installing dependencies into $VENV, pinned by constraints.txt (the first time takes a few minutes)"
    say "step 1 of 2: upgrading pip"
    pip_install --quiet --upgrade pip || return 1
    say "step 2 of 2: installing optiview-edge$extras and its dependencies"
    pip_install -c "$ROOT/constraints.txt" -e "$ROOT$extras" || return 1
    echo "$want" >>"$stamp"
    say "dependencies installed in $((SECONDS - started)) s"
  fi
  export PATH="$VENV/bin:$PATH"
}
