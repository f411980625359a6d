#!/usr/bin/env bash
# Load on bundle-api: 200 job submissions from 20 concurrent HTTP clients (small images) against redis-server, two
# bundle-silo processes and bundle-api, all Release builds on this machine. Every job must complete exactly once (the
# test asserts it); prints the submit latency p50/p99 and the throughput. Usage: bash bench/api-load.sh
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "BundleCluster bundle-api load, $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
dotnet test "$repo/tests/BundleCluster.Cluster.Tests" -c Release -nologo \
  --filter "FullyQualifiedName~ApiServiceTests.Two_hundred_jobs_from_twenty_concurrent_clients" \
  --logger "console;verbosity=detailed" > "$log" 2>&1
status=$?
grep -E 'api-load:' "$log" | sed 's/^ *//'
[ $status -eq 0 ] || { echo "the load test failed:"; tail -40 "$log"; }
exit $status
