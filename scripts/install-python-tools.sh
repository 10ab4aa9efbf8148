#!/usr/bin/env bash
# Installs the Python tools the tests drive drey with (the `flink-rest-client`
# package from PyPI) into a private virtualenv under drey's data home, pinned by
# sha256 in scripts/python-tools-requirements.txt. Idempotent. The last line of
# output is the virtualenv's python.
#
# Usage: scripts/install-python-tools.sh
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQUIREMENTS="$SCRIPT_DIR/python-tools-requirements.txt"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}/drey"
VENV="$DATA_HOME/python-tools-venv"
STAMP="$VENV/.requirements.sha256"

log() { echo "install-python-tools: $*" >&2; }

command -v python3 >/dev/null 2>&1 || { log "python3 is required"; exit 1; }
want="$(sha256sum "$REQUIREMENTS" | cut -c1-64)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
    echo "$VENV/bin/python"
    exit 0
fi
mkdir -p "$DATA_HOME"
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
log "installing flink-rest-client and its dependencies"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --require-hashes -r "$REQUIREMENTS"
echo "$want" > "$STAMP"
echo "$VENV/bin/python"
