#!/usr/bin/env bash
# Scaling across silos: the same image bundled by one bundle-silo pinned to one core, then by N silos pinned to one
# core each (taskset, and DOTNET_PROCESSOR_COUNT=1 so each silo sizes itself for its core), through Redis on
# loopback — so that on this host more silos really are more machine. Then the embedded silo on the same cores.
# For every silo: the CPU seconds it used during the run and how much of the job's own time it was idle (a silo's CPU
# includes its share of the run's ends: bundlectl's connect and the job's preparation and commit); its chunk share.
#
#   bash bench/cluster.sh [--image FILE] [--silos "1 2"] [--level 6] [--runs 1]
#
# Prints a report and saves it under bench/work/. Needs Redis (installed by deploy/redis.sh if missing). Cores are
# taken from 0 up: N silos need N cores; bundlectl itself only submits and watches (it runs on the last core).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${BENCH_WORK:-$repo/bench/work}"
image="$work/disk-1g.img"; silo_counts="1 2"; level=6; runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --image) image=$2; shift 2 ;;
    --silos) silo_counts=$2; shift 2 ;;
    --level) level=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
cores=$(nproc)
mkdir -p "$work"
[ -f "$image" ] || bash "$repo/bench/make-image.sh" "$image" 1 500
report="$work/cluster-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "building bundle-silo and bundlectl (Release, ReadyToRun) ..."
dotnet publish "$repo/src/BundleCluster.Silo" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/silo-bin" -nologo -v q >/dev/null
dotnet publish "$repo/src/BundleCluster.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bin" -nologo -v q >/dev/null
bundlectl="$work/bin/bundlectl"; silo="$work/silo-bin/bundle-silo"
export BUNDLECLUSTER_JIT_PROFILE_DIR="$work/jit-profiles" # start-up JIT profiles with the benchmark, not in ~/.cache
keys="$work/keys"
if [ ! -f "$keys/user-pk.pem" ]; then
  mkdir -p "$keys"; "$bundlectl" keygen -d "$keys" -n user >/dev/null; "$bundlectl" keygen -d "$keys" -n cloud >/dev/null
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
state="$work/cluster-state"; rm -rf "$state"; mkdir -p "$state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash "$repo/deploy/redis.sh" stop "$port"
}
trap cleanup EXIT
bash "$repo/deploy/redis.sh" start "$port" "$state" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of a live process, in clock ticks
hz=$(getconf CLK_TCK)
say() { echo "$@" | tee -a "$report"; }

bundle() { # OUTDIR EXTRA-ARGS... ; sets wall
  local out=$1; shift
  rm -rf "$out" && mkdir -p "$out"
  cat "$image" >/dev/null
  local start end
  start=$(date +%s.%N)
  "$bundlectl" bundle-image -i "$image" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 -d "$out" \
    --ec2cert "$keys/cloud-cert.pem" --level "$level" "$@" >"$out.summary" 2>"$out.err" || { cat "$out.err" >&2; exit 1; }
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc -l)
}

say "BundleCluster scaling benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores; image $(basename "$image") $(stat -c %s "$image") bytes, level $level"
declare -A walls
for n in $silo_counts; do
  [ "$n" -le "$cores" ] || { say "skipping $n silos: only $cores cores"; continue; }
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  redis-cli -p "$port" flushall >/dev/null
  cluster_id="bench-$n-$$"
  for i in $(seq 0 $((n - 1))); do
    DOTNET_PROCESSOR_COUNT=1 taskset -c "$i" "$silo" --redis "127.0.0.1:$port" --cluster-id "$cluster_id" \
      --silo-port $((21111 + i)) --gateway-port $((32000 + i)) --http-port $((28080 + i)) \
      --allowed-root "$work" ${SILO_ARGS:-} > "$state/silo-$n-$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$((28080 + i))/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  done
  bundle "$work/cluster-out" --cluster "127.0.0.1:$port" --cluster-id "$cluster_id" # warm-up: JIT, connections
  for run in $(seq "$runs"); do
    before=(); for pid in "${pids[@]}"; do before+=("$(cpu_ticks "$pid")"); done
    key="bench-$n-$run-$$"
    bundle "$work/cluster-out" --cluster "127.0.0.1:$port" --cluster-id "$cluster_id" --idempotency-key "$key"
    after=(); for pid in "${pids[@]}"; do after+=("$(cpu_ticks "$pid")"); done
    status=$("$bundlectl" status "$key" --json --cluster "127.0.0.1:$port" --cluster-id "$cluster_id")
    # The job's own time (submit to manifest written, from its status) leaves out bundlectl's start and connect.
    job=$(echo "$status" | python3 -c 'import json,sys,datetime as d
s=json.load(sys.stdin); f=lambda k: d.datetime.fromisoformat(s[k])
print((f("finishedAt")-f("startedAt")).total_seconds())')
    line="$n silo(s), run $run: wall $(printf %.2f "$wall") s, job $(printf %.2f "$job") s;"
    for i in "${!pids[@]}"; do
      cpu=$(echo "(${after[$i]} - ${before[$i]}) / $hz" | bc -l)
      idle=$(echo "100 * (1 - $cpu / $job)" | bc -l)
      line+=" silo $i cpu $(printf %.2f "$cpu") s, idle $(printf %.0f "$idle")% of the job;"
    done
    say "$line"
    say "  chunk shares: $(echo "$status" | python3 -c 'import json,sys
s=json.load(sys.stdin); print(", ".join(f"{k}={v/2**20:.0f} MiB" for k,v in sorted(s["silos"].items())), "| sealer:", s.get("sealerSilo"))')"
    walls[$n]=$job
  done
done
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

# The embedded silo on the same cores as the largest cluster.
largest=$(for n in $silo_counts; do [ "$n" -le "$cores" ] && echo "$n"; done | sort -n | tail -1)
mask="0-$((largest - 1))"
bundle "$work/embedded-out" # warm-up
rm -rf "$work/embedded-out" && mkdir -p "$work/embedded-out"
timings=$(taskset -c "$mask" "$bundlectl" bundle-image -i "$image" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 \
  -d "$work/embedded-out" --ec2cert "$keys/cloud-cert.pem" --level "$level" --timings 2>&1 >/dev/null | grep 'timings:')
embedded=$(echo "$timings" | sed 's/.* job \([0-9.]*\) s.*/\1/')
say "embedded silo on cores $mask: $(echo "$timings" | sed 's/.*timings: //')"
if [ -n "${walls[1]:-}" ] && [ -n "${walls[$largest]:-}" ] && [ "$largest" -gt 1 ]; then
  say "ratios (job times): $largest silos vs 1 silo $(printf %.2f "$(echo "${walls[1]} / ${walls[$largest]}" | bc -l)")x faster;" \
      "$largest silos vs the embedded silo's job on the same $largest cores $(printf %.2f "$(echo "${walls[$largest]} / $embedded" | bc -l)")x"
fi
say "report: $report"
