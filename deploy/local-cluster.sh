#!/usr/bin/env bash
# A local N-silo cluster on 127.0.0.1 for developers: Redis plus N bundle-silo processes.
#   deploy/local-cluster.sh start [N] [--allowed-root DIR]...   (default 3 silos, allowed root: $HOME and /tmp)
#   deploy/local-cluster.sh stop
# Redis listens on 127.0.0.1:${BUNDLECLUSTER_REDIS_PORT:-6390}; silo i on 11111+i, its gateway on 30000+i.
# State, pids and logs live in .local-cluster/ at the repository root.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="$repo/.local-cluster"
port=${BUNDLECLUSTER_REDIS_PORT:-6390}
cmd=${1:-start}; shift || true
case "$cmd" in
  start)
    n=3; roots=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --allowed-root) roots+=(--allowed-root "$2"); shift 2 ;;
        *) n=$1; shift ;;
      esac
    done
    [ ${#roots[@]} -gt 0 ] || roots=(--allowed-root "$HOME" --allowed-root /tmp)
    mkdir -p "$state"
    bash "$repo/deploy/redis.sh" start "$port" "$state"
    dotnet build "$repo/src/BundleCluster.Silo" -c Release -nologo -v q >/dev/null
    silo="$repo/src/BundleCluster.Silo/bin/Release/net10.0/bundle-silo"
    for i in $(seq 0 $((n - 1))); do
      "$silo" --redis "127.0.0.1:$port" --silo-port $((11111 + i)) --gateway-port $((30000 + i)) --http-port $((8080 + i)) "${roots[@]}" \
        > "$state/silo-$i.log" 2>&1 &
      echo $! > "$state/silo-$i.pid"
    done
    echo "cluster up: redis 127.0.0.1:$port, $n silos (logs in $state); use: bundlectl ... --cluster 127.0.0.1:$port" ;;
  stop)
    for pidfile in "$state"/silo-*.pid; do
      [ -e "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
    bash "$repo/deploy/redis.sh" stop "$port" ;;
  *) echo "usage: $0 start [N] [--allowed-root DIR]... | stop" >&2; exit 1 ;;
esac
