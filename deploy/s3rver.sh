#!/usr/bin/env bash
# npm s3rver 3.7.1 on 127.0.0.1, for testing the --s3-compat switch: without plain bodies it stores the SDK's
# aws-chunked framing as object content. Installs s3rver into deploy/s3rver/ on first use.
#   deploy/s3rver.sh start PORT DIR BUCKET   |   deploy/s3rver.sh stop DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd=${1:?start|stop}
case "$cmd" in
  start)
    port=${2:?port}; dir=${3:?state directory}; bucket=${4:?bucket}
    mkdir -p "$here/s3rver" "$dir/data"
    (
      flock 9 # tests start several servers at once: one installs, the others wait
      if [ ! -d "$here/s3rver/node_modules/s3rver" ]; then
        cd "$here/s3rver" && { [ -f package.json ] || echo '{"private": true}' > package.json; } \
          && npm install --no-audit --no-fund --loglevel=error --no-save s3rver@3.7.1 >/dev/null 2>&1 \
          || { echo "cannot install s3rver@3.7.1 from npm" >&2; exit 1; }
      fi
    ) 9>"$here/s3rver/.install.lock"
    # --openssl-legacy-provider: without it paged listings answer 500 on current Node.
    node --openssl-legacy-provider "$here/s3rver/node_modules/s3rver/bin/s3rver.js" -d "$dir/data" -a 127.0.0.1 -p "$port" \
      --configure-bucket "$bucket" --no-vhost-buckets > "$dir/s3rver-$port.log" 2>&1 &
    echo $! > "$dir/s3rver.pid"
    for _ in $(seq 100); do
      ss -ltn "sport = :$port" 2>/dev/null | grep -q "127.0.0.1:$port" && exit 0
      sleep 0.1
    done
    echo "s3rver on 127.0.0.1:$port did not start; see $dir/s3rver-$port.log" >&2; exit 1 ;;
  stop)
    dir=${2:?state directory}
    [ -f "$dir/s3rver.pid" ] && kill "$(cat "$dir/s3rver.pid")" 2>/dev/null || true
    rm -f "$dir/s3rver.pid" ;;
  *) echo "usage: $0 start PORT DIR BUCKET | stop DIR" >&2; exit 1 ;;
esac
