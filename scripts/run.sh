#!/usr/bin/env bash
# Sets up everything drey needs on this machine (Java 17 with the JDK and Flink
# 2.3.0 for the local backend, drey's SQL gateway compiled from sql-gateway/)
# and runs the drey server on the embedded defaults: SQLite under
# ${XDG_DATA_HOME:-~/.local/share}/drey/data, port 8080.
# Extra arguments go to `drey server`, e.g. scripts/run.sh --listen 127.0.0.1:9090
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

command -v cargo >/dev/null 2>&1 || {
    echo "run.sh: cargo is required (install Rust with rustup: https://rustup.rs)" >&2
    exit 1
}
FLINK_HOME="${FLINK_HOME:-$("$REPO/scripts/install-flink.sh" --jdk | tail -n 1)}"
export FLINK_HOME
DREY_SQL_GATEWAY_JAR="$("$REPO/scripts/build-sql-gateway.sh" | tail -n 1)"
export DREY_SQL_GATEWAY_JAR
cargo build --release --locked -p drey
exec "$REPO/target/release/drey" server "$@"
