#!/usr/bin/env bash
# Installs Debian's Prometheus server and Alertmanager (packages `prometheus`
# and `prometheus-alertmanager`) when missing, for the tests that have a real
# Prometheus scrape drey and its Flink clusters and a real Alertmanager
# receive drey's alerts (crates/drey/tests/observability.rs). The tests start
# their own instances on free ports in temporary directories; the services
# the packages set up are stopped and not used. Idempotent.
set -euo pipefail
log() { echo "install-prometheus: $*" >&2; }

if command -v prometheus >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        log "need root (or sudo) to apt-get install prometheus; install it yourself"
        log "or set DREY_SKIP_PROMETHEUS=1 to skip the Prometheus tests"
        exit 1
    fi
fi
log "installing prometheus and prometheus-alertmanager with apt-get"
$sudo apt-get update -qq
# The packages' own services are not wanted: a policy-rc.d keeps them from
# starting during the installation where one is honoured.
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
command -v prometheus >/dev/null 2>&1 || { log "prometheus is installed but not on PATH"; exit 1; }
