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

bootstrap() {  # $1: the extras to install, e.g. "" or "[dev]"
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(pick_python)"
    echo "optiview: creating virtual environment $VENV" >&2
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      # Debian's python3 ships venv separately; as root we can add it.
      echo "optiview: venv module missing, installing python3-venv" >&2
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$VENV"
    fi
  fi
  local stamp="$VENV/.optiview-installed"
  local want
  want="$extras $(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || ! grep -qxF -- "$want" "$stamp"; then
    echo "optiview: installing dependencies (pinned by constraints.txt)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -c "$ROOT/constraints.txt" -e "$ROOT$extras"
    echo "$want" >>"$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}
