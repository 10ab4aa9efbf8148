#!/usr/bin/env bash
# Installs a full Apache Flink 2.3.0 distribution for drey's local backend.
#
# Flink comes from PyPI: the union of the wheels apache-flink==2.3.0 and
# apache-flink-libraries==2.3.0 (package dir `pyflink/`, which holds bin/, conf/, lib/, opt/),
# installed with pinned sha256 hashes into a private virtualenv under drey's data home.
# A stable symlink points at it:
#
#   ${XDG_DATA_HOME:-$HOME/.local/share}/drey/flink-2.3.0 -> .../venv/lib/python3.X/site-packages/pyflink
#
# Java 17 is installed with apt-get when `java` is missing; with --jdk also the JDK when
# `javac` is missing (needed to compile the test jobs). Debian's bubblewrap (`bwrap`, the
# sandbox of every Flink process drey starts) and passt (`pasta`, which connects each
# cluster's network namespace outwards) are installed when missing.
#
# Idempotent: a second run does nothing and prints where Flink is. The last line of
# output is always the Flink home.
#
# Usage: scripts/install-flink.sh [--jdk]
set -euo pipefail

FLINK_VERSION=2.3.0
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQUIREMENTS="$SCRIPT_DIR/flink-requirements.txt"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}/drey"
VENV="$DATA_HOME/flink-$FLINK_VERSION-venv"
LINK="$DATA_HOME/flink-$FLINK_VERSION"

want_jdk=0
for arg in "$@"; do
    case "$arg" in
        --jdk) want_jdk=1 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "install-flink.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { echo "install-flink: $*" >&2; }

apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            log "need root (or sudo) to apt-get install $*; install Java 17 yourself"; exit 1
        fi
    fi
    log "installing $* with apt-get"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@"
}

# --- Java -----------------------------------------------------------------
java_major() {
    java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}' \
        | awk -F. '{ if ($1 == "1") print $2; else print $1 }'
}
if ! command -v java >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
elif [ "$(java_major || echo 0)" -lt 11 ] 2>/dev/null; then
    log "java $(java_major) is too old for Flink $FLINK_VERSION (needs 11+, 17 recommended)"
    apt_install openjdk-17-jre-headless
    log "if \`java\` still is the old one, set JAVA_HOME to the Java 17 install (/usr/lib/jvm/...)"
fi
if [ "$want_jdk" -eq 1 ] && ! command -v javac >/dev/null 2>&1; then
    apt_install openjdk-17-jdk-headless
fi

# --- bubblewrap -----------------------------------------------------------
# drey runs every Flink process in a bwrap sandbox (--cluster-isolation sandbox, the
# default); without it no cluster starts.
if ! command -v bwrap >/dev/null 2>&1; then
    apt_install bubblewrap
fi
# ... and each cluster in a network namespace of its own, connected outwards by Debian's
# pasta (package passt; --cluster-network namespace, the default).
if ! command -v pasta >/dev/null 2>&1; then
    apt_install passt
fi

# --- Flink ----------------------------------------------------------------
is_complete() {
    [ -x "$1/bin/jobmanager.sh" ] && [ -x "$1/bin/taskmanager.sh" ] && [ -d "$1/lib" ] \
        && [ -d "$1/conf" ] && ls "$1"/lib/flink-dist*.jar >/dev/null 2>&1
}

if [ -L "$LINK" ] && is_complete "$LINK"; then
    log "Flink $FLINK_VERSION already installed"
    echo "$LINK"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || { log "python3 is required"; exit 1; }
mkdir -p "$DATA_HOME"

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
log "installing apache-flink==$FLINK_VERSION and apache-flink-libraries==$FLINK_VERSION (about 330 MB)"
"$VENV/bin/python" -m pip install --quiet --no-deps --require-hashes -r "$REQUIREMENTS"

PYFLINK="$("$VENV/bin/python" - <<'PY'
import pathlib, sysconfig
print(pathlib.Path(sysconfig.get_paths()["purelib"]) / "pyflink")
PY
)"
if [ ! -d "$PYFLINK" ]; then
    # apache-flink is a platform wheel; it may land in platlib.
    PYFLINK="$("$VENV/bin/python" -c 'import pathlib,sysconfig; print(pathlib.Path(sysconfig.get_paths()["platlib"]) / "pyflink")')"
fi
chmod +x "$PYFLINK"/bin/*.sh "$PYFLINK"/bin/flink 2>/dev/null || true
chmod +x "$PYFLINK"/bin/* 2>/dev/null || true

if ! is_complete "$PYFLINK"; then
    log "the installed package at $PYFLINK is not a full Flink distribution (missing bin/, conf/ or lib/)"
    exit 1
fi

ln -sfn "$PYFLINK" "$LINK.tmp"
mv -Tf "$LINK.tmp" "$LINK"
log "Flink $FLINK_VERSION installed; FLINK_HOME=$LINK"
echo "$LINK"
