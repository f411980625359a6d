#!/usr/bin/env bash
# What telemetry costs a job: `bundlectl bundle-image` (embedded silo, Release, ReadyToRun) on the benchmark's
# realistic image, alternately without OpenTelemetry and exporting everything (traces, metrics, logs) over OTLP to a
# receiver on 127.0.0.1. Prints each run and the ratio of the medians.
#   --receiver dashboard  the standalone Aspire Dashboard over OTLP/gRPC (a real backend; on this machine it competes
#                         with the job for the same cores while it ingests)
#   --receiver null       a minimal OTLP/HTTP sink that answers 200 and keeps nothing: what the job itself pays, as
#                         with a collector on another machine
#
#   bash bench/telemetry.sh [--size-gib 1] [--files-mib 500] [--level 6] [--runs 3] [--receiver dashboard|null]
#
# Not part of the tests. Uses bench/work (BENCH_WORK overrides) like bench/run.sh.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
size_gib=1; files_mib=500; level=6; runs=3; receiver=dashboard
while [ $# -gt 0 ]; do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --files-mib) files_mib=$2; shift 2 ;;
    --level) level=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --receiver) receiver=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
work="${BENCH_WORK:-$repo/bench/work}"
mkdir -p "$work"
echo "building bundlectl (Release, ReadyToRun) ..."
dotnet publish "$repo/src/BundleCluster.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bin" -nologo -v q >/dev/null
dotnet restore "$repo/tests/BundleCluster.Cluster.Tests" -v q >/dev/null # downloads the Aspire Dashboard package
bundlectl="$work/bin/bundlectl"
dashboard="$(find "${NUGET_PACKAGES:-$HOME/.nuget/packages}/aspire.dashboard.sdk.linux-x64" -path '*/tools/Aspire.Dashboard' | sort | tail -1)"
keys="$work/keys"
if [ ! -f "$keys/user-pk.pem" ]; then
  mkdir -p "$keys"
  "$bundlectl" keygen -d "$keys" -n user >/dev/null
  "$bundlectl" keygen -d "$keys" -n cloud >/dev/null
fi
image="$work/disk-${size_gib}g.img"
[ -f "$image" ] || bash "$repo/bench/make-image.sh" "$image" "$size_gib" "$files_mib"
cat "$image" > /dev/null # in the page cache, as in bench/run.sh

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ui=$(port); grpc=$(port); http=$(port)
if [ "$receiver" = null ]; then
  python3 - "$http" > "$work/null-receiver.log" 2>&1 <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
  receiver_pid=$!
  otel=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$http" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)
else
  ASPNETCORE_URLS="http://127.0.0.1:$ui" ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL="http://127.0.0.1:$grpc" \
  ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL="http://127.0.0.1:$http" ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true \
    "$dashboard" > "$work/dashboard.log" 2>&1 &
  receiver_pid=$!
  otel=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$grpc")
fi
trap 'kill $receiver_pid 2>/dev/null || true' EXIT
sleep 5

run() { # run MODE: one bundle-image; prints its wall seconds
  local out="$work/telemetry-out"; rm -rf "$out"; mkdir -p "$out"
  local start end
  start=$(date +%s.%N)
  if [ "$1" = on ]; then
    env "${otel[@]}" "$bundlectl" bundle-image -i "$image" -c "$keys/user-cert.pem" \
      -k "$keys/user-pk.pem" -u 123456789012 -d "$out" --ec2cert "$keys/cloud-cert.pem" --level "$level" >/dev/null
  else
    "$bundlectl" bundle-image -i "$image" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 -d "$out" \
      --ec2cert "$keys/cloud-cert.pem" --level "$level" >/dev/null
  fi
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')"
}
run off >/dev/null # warm-up
off=(); on=()
for i in $(seq "$runs"); do
  off+=("$(run off)"); on+=("$(run on)")
  echo "run $i: telemetry off ${off[-1]} s, on ${on[-1]} s"
done
python3 - "${off[*]}" "${on[*]}" "$receiver" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]; on = [float(x) for x in sys.argv[2].split()]
m_off, m_on = statistics.median(off), statistics.median(on)
print(f"receiver: {sys.argv[3]}; median: off {m_off:.2f} s, on {m_on:.2f} s; on/off = {m_on / m_off:.3f} ({(m_on / m_off - 1) * 100:+.1f}%)")
PY
