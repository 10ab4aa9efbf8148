#!/usr/bin/env bash
# Sets up everything the tests need on this machine (Java 17 with the JDK,
# Flink 2.3.0, the Java test jobs compiled from testjobs/, drey's SQL gateway
# compiled from sql-gateway/, the Python tools in scripts/python-tools-requirements.txt)
# and runs every test
# of the workspace: unit tests, HTTP integration tests against real drey
# servers, and tests against real Flink clusters started by drey's runtime.
# Extra arguments go to `cargo test`, e.g. scripts/test.sh -p drey-api
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

command -v cargo >/dev/null 2>&1 || {
    echo "test.sh: cargo is required (install Rust with rustup: https://rustup.rs)" >&2
    exit 1
}
FLINK_HOME="${FLINK_HOME:-$("$REPO/scripts/install-flink.sh" --jdk | tail -n 1)}"
export FLINK_HOME
"$REPO/scripts/build-testjobs.sh"
export DREY_TESTJOBS_DIR="$REPO/target/testjobs"
# The README's first example job (crates/drey/tests/first_run.rs runs it).
"$REPO/scripts/build-testjobs.sh" --examples
DREY_SQL_GATEWAY_JAR="$("$REPO/scripts/build-sql-gateway.sh" | tail -n 1)"
export DREY_SQL_GATEWAY_JAR

# Python tools the tests drive drey with (flink-rest-client from PyPI).
DREY_PYTHON_TOOLS="$("$REPO/scripts/install-python-tools.sh" | tail -n 1)"
export DREY_PYTHON_TOOLS

# The web console's browser tests: Chromium and playwright-core (ui-tests/).
"$REPO/scripts/install-ui-tests.sh"

# A real PostgreSQL for the store's conformance tests (they start their own server).
"$REPO/scripts/install-postgres.sh"

# A real Prometheus and Alertmanager for the observability tests (they start their own).
"$REPO/scripts/install-prometheus.sh"

# CI builds once in a fresh clone: incremental compilation only costs it time and tens
# of GB of disk there.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

# Two cores: run test binaries one after another, tests inside each in parallel.
cargo test --locked --workspace --all-targets "$@"

# The API tests and the application lifecycle once more with every server
# keeping its state in PostgreSQL: the store differs, the answers must not.
if [ "${DREY_SKIP_POSTGRES:-}" != 1 ]; then
    DREY_TEST_DATABASE=postgres cargo test --locked -p drey \
        --test cmf_api --test cmf_openapi --test vvp_api --test vvp_openapi --test lakesail_api \
        --test lakesail_sessions --test odd_fields --test bad_input --test auth \
        --test access --test quotas --test owned_flink_options --test safe_defaults \
        --test k8s_manifests --test application_lifecycle "$@"
fi
