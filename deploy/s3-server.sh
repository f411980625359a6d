#!/usr/bin/env bash
# A throwaway S3-compatible server (npm fauxqs 2.4.1 on Node 22) bound to 127.0.0.1, for development and tests.
#   deploy/s3-server.sh start PORT DIR   |   deploy/s3-server.sh stop DIR   |   deploy/s3-server.sh install
# Installs node@22 and fauxqs@2.4.1 from npm into deploy/s3/node_modules on first use, then checks with ss that the
# server listens on 127.0.0.1 only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd=${1:?start|stop|install}
install() {
  (
    flock 9 # tests start several servers at once: one installs, the others wait
    if [ ! -x "$here/s3/node_modules/.bin/node" ] || [ ! -d "$here/s3/node_modules/fauxqs" ]; then
      cd "$here/s3" && { [ -f package.json ] || echo '{"private": true}' > package.json; } \
        && npm install --no-audit --no-fund --loglevel=error --no-save node@22 fauxqs@2.4.1 >/dev/null 2>&1 \
        || { echo "cannot install node@22 and fauxqs@2.4.1 from npm" >&2; exit 1; }
    fi
  ) 9>"$here/s3/.install.lock"
}
case "$cmd" in
  install)
    install ;; # node and fauxqs only (deploy/docker/build-local.sh copies them into the local S3 image)
  start)
    port=${2:?port}; dir=${3:?state directory}
    install
    mkdir -p "$dir/data"
    (cd "$here/s3" && exec node_modules/.bin/node fauxqs-local.mjs "$port" "$dir/data" > "$dir/s3-$port.log" 2>&1) &
    echo $! > "$dir/s3.pid"
    for _ in $(seq 100); do
      if ss -ltn "sport = :$port" 2>/dev/null | grep -q "127.0.0.1:$port"; then
        if ss -ltn "sport = :$port" | tail -n +2 | grep -qv "127.0.0.1:$port"; then
          echo "S3 test server on port $port listens beyond 127.0.0.1; stopping it" >&2; kill "$(cat "$dir/s3.pid")"; exit 1
        fi
        exit 0
      fi
      sleep 0.1
    done
    echo "S3 test server on 127.0.0.1:$port did not start; see $dir/s3-$port.log" >&2; exit 1 ;;
  stop)
    dir=${2:?state directory}
    [ -f "$dir/s3.pid" ] && kill "$(cat "$dir/s3.pid")" 2>/dev/null || true
    rm -f "$dir/s3.pid" ;;
  *) echo "usage: $0 start PORT DIR | stop DIR | install" >&2; exit 1 ;;
esac
