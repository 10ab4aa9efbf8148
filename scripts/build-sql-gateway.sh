#!/usr/bin/env bash
# Compiles drey's SQL gateway (sql-gateway/, a small Java service speaking the Flink SQL
# Gateway REST API) against the Flink 2.3 distribution and installs the jar at
#
#   ${XDG_DATA_HOME:-$HOME/.local/share}/drey/sql-gateway/drey-sql-gateway.jar
#
# (no jar is committed). drey runs it with `java -cp <jar>:$FLINK_HOME/lib/*`.
#
# Installs Flink and a JDK first (scripts/install-flink.sh --jdk). Idempotent: does nothing
# when the jar is newer than every source file and this script. FLINK_HOME, when set, wins
# over the installed distribution. The last line of stdout is always the jar's path.
#
# Usage: scripts/build-sql-gateway.sh [--force]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SRC="$REPO/sql-gateway/src/main/java"
DEST_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/drey/sql-gateway"
JAR="$DEST_DIR/drey-sql-gateway.jar"
MAIN=io.drey.sqlgateway.Main

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build-sql-gateway.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

installed="$("$SCRIPT_DIR/install-flink.sh" --jdk | tail -n 1)"
FLINK_HOME="${FLINK_HOME:-$installed}"

if [ "$force" -eq 0 ] && [ -f "$JAR" ] \
    && [ -z "$(find "$SRC" "$0" -newer "$JAR" -type f -print -quit)" ]; then
    echo "build-sql-gateway: $JAR is up to date" >&2
    echo "$JAR"
    exit 0
fi

mkdir -p "$DEST_DIR"
WORK="$(mktemp -d "$DEST_DIR/.build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mapfile -t sources < <(find "$SRC" -name '*.java' | sort)
echo "build-sql-gateway: compiling ${#sources[@]} sources against $FLINK_HOME/lib" >&2
javac --release 17 -nowarn -encoding UTF-8 -cp "$FLINK_HOME/lib/*" -d "$WORK/classes" "${sources[@]}"
jar --create --file "$WORK/drey-sql-gateway.jar" --main-class "$MAIN" -C "$WORK/classes" .
mv -f "$WORK/drey-sql-gateway.jar" "$JAR"
echo "build-sql-gateway: $JAR ($MAIN)" >&2
echo "$JAR"
