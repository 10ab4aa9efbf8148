#!/usr/bin/env bash
# Compiles the Java test jobs in testjobs/ against the Flink 2.3 distribution and packs one
# jar per job into target/testjobs/ (gitignored; no jar is committed):
#
#   target/testjobs/stateful-counter.jar  io.drey.testjobs.StatefulCounter
#   target/testjobs/failing-job.jar       io.drey.testjobs.FailingJob
#   target/testjobs/bounded-job.jar       io.drey.testjobs.BoundedJob
#   target/testjobs/attack-job.jar        io.drey.testjobs.AttackJob
#   target/testjobs/cpu-bound.jar         io.drey.testjobs.CpuBoundJob
#
# With --examples it builds the example jobs of examples/jobs/ instead, for
# scripts/run.sh and the README's first run:
#
#   target/examples/first-job.jar         io.drey.examples.FirstJob
#
# Installs Flink and a JDK first (scripts/install-flink.sh --jdk). Idempotent: does nothing
# when every jar is newer than every source file. FLINK_HOME, when set, wins over the
# installed distribution.
#
# Usage: scripts/build-testjobs.sh [--examples] [--force]
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"

force=0
examples=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --examples) examples=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "build-testjobs.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ "$examples" -eq 1 ]; then
    SRC="$REPO/examples/jobs/src/main/java"
    OUT="$REPO/target/examples"
    JOBS=(
        "first-job:io.drey.examples.FirstJob"
    )
else
    SRC="$REPO/testjobs/src/main/java"
    OUT="$REPO/target/testjobs"
    JOBS=(
        "stateful-counter:io.drey.testjobs.StatefulCounter"
        "failing-job:io.drey.testjobs.FailingJob"
        "bounded-job:io.drey.testjobs.BoundedJob"
        "attack-job:io.drey.testjobs.AttackJob"
        "cpu-bound:io.drey.testjobs.CpuBoundJob"
    )
fi

installed="$("$SCRIPT_DIR/install-flink.sh" --jdk | tail -n 1)"
FLINK_HOME="${FLINK_HOME:-$installed}"

up_to_date() {
    local job jar
    for job in "${JOBS[@]}"; do
        jar="$OUT/${job%%:*}.jar"
        [ -f "$jar" ] || return 1
        # any source (or this script) newer than the jar?
        if [ -n "$(find "$(dirname "$SRC")" "$0" -newer "$jar" -type f -print -quit)" ]; then return 1; fi
    done
    return 0
}

if [ "$force" -eq 0 ] && up_to_date; then
    echo "build-testjobs: jars in $OUT are up to date" >&2
    exit 0
fi

CLASSES="$OUT/classes"
rm -rf "$CLASSES"
mkdir -p "$CLASSES"
mapfile -t sources < <(find "$SRC" -name '*.java' | sort)
echo "build-testjobs: compiling ${#sources[@]} sources against $FLINK_HOME/lib" >&2
javac --release 17 -nowarn -encoding UTF-8 -cp "$FLINK_HOME/lib/*" -d "$CLASSES" "${sources[@]}"
# Resources (service files) ride along in every jar.
RESOURCES="$(dirname "$SRC")/resources"
if [ -d "$RESOURCES" ]; then cp -R "$RESOURCES/." "$CLASSES/"; fi

for job in "${JOBS[@]}"; do
    name="${job%%:*}"
    main="${job#*:}"
    jar --create --file "$OUT/$name.jar.tmp" --main-class "$main" -C "$CLASSES" .
    mv -f "$OUT/$name.jar.tmp" "$OUT/$name.jar"
    echo "build-testjobs: $OUT/$name.jar ($main)" >&2
done
rm -rf "$CLASSES"
