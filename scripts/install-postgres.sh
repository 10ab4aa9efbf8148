#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries (package `postgresql`) when
# missing, for the tests that run drey's store against a real PostgreSQL
# (crates/drey-store/tests/conformance.rs). The tests start their own server
# in a temporary directory as an unprivileged user; the cluster the package
# may set up is not used. Idempotent: does nothing when initdb is there.
set -euo pipefail
log() { echo "install-postgres: $*" >&2; }

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        log "need root (or sudo) to apt-get install postgresql; install it yourself"
        log "or set DREY_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
        exit 1
    fi
fi
log "installing postgresql with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    log "postgresql is installed but /usr/lib/postgresql/*/bin/initdb is missing"
    exit 1
}
