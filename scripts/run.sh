#!/usr/bin/env bash
# Sets up everything drey needs on this machine (Java 17 with the JDK and Flink
# 2.3.0 for the local backend, drey's SQL gateway compiled from sql-gateway/,
# the example jobs of examples/jobs/ compiled into target/examples/) and runs
# the drey server on the embedded defaults: SQLite under
# ${XDG_DATA_HOME:-~/.local/share}/drey/data, port 8080. target/examples/ is a
# jar dir besides the server's own, so examples/first-job.yaml runs as the
# README shows.
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
"$REPO/scripts/build-testjobs.sh" --examples

# The jar dirs: the ones given (--jar-dir, DREY_JAR_DIRS) or the server's
# default, <data-dir>/jars, and target/examples/. A --jar-dir flag replaces the
# default and DREY_JAR_DIRS, so both are named here.
jar_dirs=()
data_dir="${DREY_DATA_DIR:-}"
given_jar_dirs=0
previous=""
for arg in "$@"; do
    case "$previous" in
        --data-dir) data_dir="$arg" ;;
        --jar-dir) given_jar_dirs=1 ;;
    esac
    case "$arg" in
        --data-dir=*) data_dir="${arg#*=}" ;;
        --jar-dir=*) given_jar_dirs=1 ;;
    esac
    previous="$arg"
done
if [ "$given_jar_dirs" -eq 0 ]; then
    if [ -n "${DREY_JAR_DIRS:-}" ]; then
        IFS=, read -ra from_env <<<"$DREY_JAR_DIRS"
        for dir in "${from_env[@]}"; do jar_dirs+=(--jar-dir "$dir"); done
    else
        data_home="${XDG_DATA_HOME:-}"
        data_dir="${data_dir:-${data_home:-$HOME/.local/share}/drey/data}"
        # private, as the server makes its data dir
        (umask 077 && mkdir -p "$data_dir/jars")
        jar_dirs+=(--jar-dir "$data_dir/jars")
    fi
fi
jar_dirs+=(--jar-dir "$REPO/target/examples")

cargo build --release --locked -p drey
exec "$REPO/target/release/drey" server "${jar_dirs[@]}" "$@"
