#!/usr/bin/env bash
# Builds drey and the load benchmark in release mode and runs it: GET one
# application and a page of 100 of 10,000 against a fixed-body axum ceiling,
# plus drey's memory. Prints figures; never fails on timing.
# Extra arguments go to drey-bench (--apps, --seconds, --connections), or
# name another benchmark: `deploy`, `sql`, `disk` (data dir bytes after
# 100 deploy/suspend cycles; `disk --cycles 3` is the quick form).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked -p drey -p drey-bench
exec target/release/drey-bench --drey target/release/drey "$@"
