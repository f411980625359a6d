#!/usr/bin/env bash
# A local cluster on 127.0.0.1 for developers: Redis, N bundle-silo processes and bundle-api in front of them, with a
# development signing identity ("dev"), a development JWT key, a tenants file and a ready-to-use token.
#   deploy/local-cluster.sh start [N] [--allowed-root DIR]...   (default 3 silos, allowed root: $HOME and /tmp)
#   deploy/local-cluster.sh token [SUBJECT]                     (a fresh token; default subject: developer)
#   deploy/local-cluster.sh stop
# Redis listens on 127.0.0.1:${BUNDLECLUSTER_REDIS_PORT:-6390}; silo i on 11111+i, its gateway on 30000+i, its health
# on 8080+i; bundle-api on 127.0.0.1:${BUNDLECLUSTER_API_PORT:-8070}. State, keys, pids and logs live in
# .local-cluster/ at the repository root; every tenant root is one of the allowed roots.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="$repo/.local-cluster"
port=${BUNDLECLUSTER_REDIS_PORT:-6390}
api_port=${BUNDLECLUSTER_API_PORT:-8070}
bin() { echo "$repo/src/$1/bin/Release/net10.0/$2"; }
token() { "$(bin BundleCluster.Cli bundlectl)" token --key "$state/jwt-pk.pem" --subject "${1:-developer}" --minutes 720; }
cmd=${1:-start}; shift || true
case "$cmd" in
  start)
    n=3; roots=(); root_dirs=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --allowed-root) roots+=(--allowed-root "$2"); root_dirs+=("$(cd "$2" && pwd)"); shift 2 ;;
        *) n=$1; shift ;;
      esac
    done
    [ ${#roots[@]} -gt 0 ] || { roots=(--allowed-root "$HOME" --allowed-root /tmp); root_dirs=("$HOME" /tmp); }
    mkdir -p "$state/identities"
    bash "$repo/deploy/redis.sh" start "$port" "$state"
    for project in BundleCluster.Silo BundleCluster.Api BundleCluster.Cli; do
      dotnet build "$repo/src/$project" -c Release -nologo -v q >/dev/null
    done
    bundlectl="$(bin BundleCluster.Cli bundlectl)"
    # The development signing identity, as silos read named identities: identities/dev/{cert,pk,cloud-cert}.pem.
    if [ ! -f "$state/identities/dev/pk.pem" ]; then
      mkdir -p "$state/identities/dev"
      "$bundlectl" keygen -d "$state/identities/dev" -n dev >/dev/null
      mv "$state/identities/dev/dev-cert.pem" "$state/identities/dev/cert.pem"
      mv "$state/identities/dev/dev-pk.pem" "$state/identities/dev/pk.pem"
      cp "$state/identities/dev/cert.pem" "$state/identities/dev/cloud-cert.pem"
    fi
    # The development JWT key: bundle-api trusts its public half; bundlectl token signs with the private half.
    if [ ! -f "$state/jwt-pk.pem" ]; then
      openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/jwt-pk.pem" 2>/dev/null
      openssl pkey -in "$state/jwt-pk.pem" -pubout -out "$state/jwt-pub.pem"
    fi
    python3 - "$state/tenants.json" "${root_dirs[@]}" <<'PY'
import json, sys
roots = sys.argv[2:]
json.dump({"claim": "sub",
           "tenants": {"dev": {"subjects": ["developer"], "images": roots, "destinations": roots, "identities": ["dev"]}},
           "scaleReaders": ["autoscaler"], "operators": ["developer"]}, open(sys.argv[1], "w"), indent=2)
PY
    for i in $(seq 0 $((n - 1))); do
      "$(bin BundleCluster.Silo bundle-silo)" --redis "127.0.0.1:$port" --silo-port $((11111 + i)) --gateway-port $((30000 + i)) \
        --http-port $((8080 + i)) --identity-root "$state/identities" "${roots[@]}" > "$state/silo-$i.log" 2>&1 &
      echo $! > "$state/silo-$i.pid"
    done
    "$(bin BundleCluster.Api bundle-api)" --redis "127.0.0.1:$port" --urls "http://127.0.0.1:$api_port" \
      --jwt-key-file "$state/jwt-pub.pem" --jwt-issuer bundlecluster-dev --jwt-audience bundle-api --tenants "$state/tenants.json" \
      > "$state/api.log" 2>&1 &
    echo $! > "$state/api.pid"
    for _ in $(seq 1 120); do
      curl -sf "http://127.0.0.1:$api_port/health/ready" >/dev/null 2>&1 && break
      sleep 0.5
    done
    curl -sf "http://127.0.0.1:$api_port/health/ready" >/dev/null || { echo "bundle-api did not become ready; see $state/api.log" >&2; exit 1; }
    echo "cluster up: redis 127.0.0.1:$port, $n silos, bundle-api http://127.0.0.1:$api_port (logs in $state)"
    echo "SDK and bundlectl: --cluster 127.0.0.1:$port"
    echo "token (tenant dev, 12 h; a new one: $0 token):"
    token developer ;;
  token)
    token "${1:-developer}" ;;
  stop)
    # SIGTERM to all, then wait: a silo's graceful stop needs Redis, so Redis goes last. Whatever is still running
    # after 30 s is killed.
    pids=()
    for pidfile in "$state"/api.pid "$state"/silo-*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile"); rm -f "$pidfile"
      kill "$pid" 2>/dev/null && pids+=("$pid") || true
    done
    for _ in $(seq 1 60); do
      alive=0; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ $alive -eq 1 ] || break
      sleep 0.5
    done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    bash "$repo/deploy/redis.sh" stop "$port" ;;
  *) echo "usage: $0 start [N] [--allowed-root DIR]... | token [SUBJECT] | stop" >&2; exit 1 ;;
esac
