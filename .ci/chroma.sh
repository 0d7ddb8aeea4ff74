#!/usr/bin/env bash
# A Chroma server for the engine-backed tests: `.ci/chroma.sh start` or `.ci/chroma.sh stop`.
# `start` runs `chroma run` (the CLI of the chromadb package, from the project's virtual
# environment) on 127.0.0.1:$CHROMA_PORT (default 8765) with its data in .ci/.chroma, and
# returns once its heartbeat answers. The tests use it when AFTERCARE_TEST_CHROMA_PORT is set
# (each test in a collection of its own); tests that stop a server start their own.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${CHROMA_PORT:-8765}"
STATE=.ci/.chroma
CHROMA="${CHROMA_BIN:-.venv/bin/chroma}"
HEARTBEAT="http://127.0.0.1:${PORT}/api/v2/heartbeat"

up() {
  python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "$HEARTBEAT" >/dev/null 2>&1
}

case "${1:-}" in
  start)
    mkdir -p "$STATE"
    "$CHROMA" run --path "$STATE/data" --host 127.0.0.1 --port "$PORT" >"$STATE/chroma.log" 2>&1 &
    echo $! >"$STATE/pid"
    for _ in $(seq 1 120); do
      if up; then
        echo "chroma: listening on 127.0.0.1:${PORT}"
        exit 0
      fi
      if ! kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
        cat "$STATE/chroma.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    echo "chroma: no heartbeat on ${HEARTBEAT} after 60 s" >&2
    exit 1
    ;;
  stop)
    if [ -f "$STATE/pid" ]; then
      pid="$(cat "$STATE/pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$STATE"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
