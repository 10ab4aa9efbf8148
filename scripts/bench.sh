#!/usr/bin/env bash
# Builds drey and the load benchmark in release mode and runs it: GET one
# application and a page of 100 of 10,000 against a fixed-body axum ceiling,
# plus drey's memory. Prints figures; never fails on timing.
# The same API figures on a real PostgreSQL beside SQLite (Debian's
# postgresql, started in a temporary directory) unless DREY_SKIP_POSTGRES=1.
# Extra arguments go to drey-bench (--apps, --seconds, --connections), or
# name another benchmark: `deploy`, `sql`, `disk` (data dir bytes after
# 100 deploy/suspend cycles; `disk --cycles 3` is the quick form),
# `failover` (kill -9 of the leader of replicas on PostgreSQL until another
# leads, at the default lease; `failover --lease 4 --runs 3` a quick form).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# `scripts/bench.sh faults`: the long (soak) form of the control loop's
# fault-injection tests on real Flink: a JobManager frozen for 4 minutes
# (under the default 5-minute hung bound), one frozen past that bound, a
# killed JobManager, and 30 seeded rounds of kill -9 of drey (a random seed,
# printed). Prints the figures, and of a failure its panic message with the
# last status seen and the end of drey's log; the whole output is kept in
# target/bench-faults.log. Fails when a test fails.
if [[ "${1:-}" == "faults" ]]; then
    shift
    FLINK_HOME="${FLINK_HOME:-$(scripts/install-flink.sh --jdk | tail -n 1)}"
    export FLINK_HOME
    scripts/build-testjobs.sh
    export DREY_TESTJOBS_DIR="$PWD/target/testjobs"
    export DREY_FAULT_STALL_SECONDS="${DREY_FAULT_STALL_SECONDS:-240}"
    export DREY_FAULT_HUNG_SECONDS="${DREY_FAULT_HUNG_SECONDS:-300}"
    export DREY_CHAOS_ROUNDS="${DREY_CHAOS_ROUNDS:-30}"
    export DREY_CHAOS_SEED="${DREY_CHAOS_SEED:-$RANDOM}"
    echo "chaos seed $DREY_CHAOS_SEED; the whole output goes to target/bench-faults.log"
    mkdir -p target
    cargo test --release --locked -p drey --test control_faults --test control_chaos \
        -- --test-threads 1 --nocapture "$@" 2>&1 | tee target/bench-faults.log |
        awk '
            # A panic: its message (with the last status) in full, then only
            # the last lines of the server log it carries.
            /panicked at/ { panic = 1; in_log = 0; n = 0; print; next }
            panic && /^(stack backtrace:|note: run with|test |failures:)/ {
                if (n > 40) print "  ... (" n - 40 " lines of the server log before these)"
                for (i = (n > 40 ? n - 40 : 0); i < n; i++) print tail[i % 40]
                panic = 0
            }
            panic && !in_log && /^log:$/ { in_log = 1; print; next }
            panic && in_log { tail[n % 40] = $0; n++; next }
            panic { print; next }
            /^(test |froze|a killed|a JobManager|a savepoint|chaos|  round)/ { print }
            { fflush() }
        '
    exit "${PIPESTATUS[0]}"
fi
cargo build --release --locked -p drey -p drey-bench
postgres=()
if [[ "${DREY_SKIP_POSTGRES:-}" != 1 && ( $# -eq 0 || "${1:-}" == -* ) ]]; then
    scripts/install-postgres.sh
    postgres=(--postgres)
fi
if [[ "${1:-}" == failover ]]; then
    scripts/install-postgres.sh
fi
exec target/release/drey-bench --drey target/release/drey "${postgres[@]}" "$@"
