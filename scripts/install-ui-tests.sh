#!/usr/bin/env bash
# Sets up the web console's browser tests (crates/drey/tests/web_console.rs):
# Debian's Chromium (with its driver) when missing, and playwright-core from
# ui-tests/package-lock.json with `npm ci`. Playwright never downloads a browser:
# ui-tests/console.mjs points it at /usr/bin/chromium.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "install-ui-tests: $*" >&2; }

apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            log "need root (or sudo) to apt-get install $*; install them yourself"; exit 1
        fi
    fi
    log "installing $* with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi

lock="$REPO/ui-tests/package-lock.json"
stamp="$REPO/ui-tests/node_modules/.drey-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    log "npm ci in ui-tests/"
    (cd "$REPO/ui-tests" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$lock" "$stamp"
fi
