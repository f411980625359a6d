#!/usr/bin/env bash
# Incremental re-bundling against a full build: a realistic disk image (bench/make-image.sh) bundled in full, then
# changed in 1%, 5% and 25% of its 4 MiB blocks and bundled again with --baseline (the full build's manifest), at
# levels 6 and 9; beside `openssl sha1` over the image, the floor (the manifest's tar-stream SHA-1 reads every byte).
# Every incremental bundle is verified (bundlectl verify) and restored byte-identical (bundlectl unbundle + cmp).
#
#   bash bench/incremental.sh [--size-gib 2] [--files-mib-per-gib 500] [--levels "6 9"] [--changes "1 5 25"] [--runs 3]
#                             [--dest DIR] [--slice-mib 4]
#
# Bundles are written under --dest: by default a tmpfs (/dev/shm), so the numbers are the pipeline's, not this VM's
# disk (its fsync rate is measured and printed: add parts ÷ rate for a disk destination; --dest bench/work measures it).
# A changed block: one of the image's 4 MiB blocks (aligned with the 4 MiB slices of the tar stream) in which a run of
# 256 KiB is rewritten with bytes copied from elsewhere in the image (so the image stays as compressible as it was).
# Changes finer than a slice dirty more slices; the cost follows the slices recompressed, which the report shows.
# Times are medians of --runs (wall of the whole process, and the job alone from --timings). Needs about 4 × size GiB
# of disk under bench/work (BENCH_WORK overrides). Not part of the tests.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
size=2; files_per_gib=500; levels="6 9"; changes="1 5 25"; runs=3; dest=; slice_mib=4
while [ $# -gt 0 ]; do
  case "$1" in
    --size-gib) size=$2; shift 2 ;;
    --files-mib-per-gib) files_per_gib=$2; shift 2 ;;
    --levels) levels=$2; shift 2 ;;
    --changes) changes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dest) dest=$2; shift 2 ;;
    --slice-mib) slice_mib=$2; shift 2 ;; # the jobs' slices; the changed blocks stay 4 MiB
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
work="${BENCH_WORK:-$repo/bench/work}/incremental"
mkdir -p "$work"
if [ -z "$dest" ]; then
  dest="$work"
  [ -d /dev/shm ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt $((3 * size * 1024 * 1024)) ] && dest=/dev/shm/bundlecluster-bench-incremental
fi
mkdir -p "$dest"
[ "$dest" = "$work" ] || trap 'rm -rf "$dest"' EXIT
report="$work/report-$(date -u +%Y%m%dT%H%M%SZ).txt"

for tool in mke2fs:e2fsprogs openssl:openssl python3:python3; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || { echo "needs ${tool##*:}" >&2; exit 1; }
done
echo "building bundlectl (Release, ReadyToRun) ..."
dotnet publish "$repo/src/BundleCluster.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bin" -nologo -v q >/dev/null
bundlectl="$work/bin/bundlectl"
keys="$work/keys"
if [ ! -f "$keys/user-pk.pem" ]; then
  mkdir -p "$keys"
  "$bundlectl" keygen -d "$keys" -n user >/dev/null
  "$bundlectl" keygen -d "$keys" -n cloud >/dev/null
fi
export BUNDLECLUSTER_JIT_PROFILE_DIR="$work/jit-profiles"

image="$work/disk-${size}g.img"
[ -f "$image" ] || bash "$repo/bench/make-image.sh" "$image" "$size" $((size * files_per_gib))
image_bytes=$(stat -c %s "$image")

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
phase() { sed -n "s/.* $1 \([0-9.]*\) s.*/\1/p" "$2"; }

# bundle OUT LEVEL IMAGE [BASELINE]: runs bundle-image --runs times; sets wall, job (medians) and leaves OUT/*.json
bundle() {
  local out=$1 level=$2 img=$3 baseline=${4:-}
  local walls=() jobs=()
  for _ in $(seq "$runs"); do
    rm -rf "$out" && mkdir -p "$out"
    cat "$img" > /dev/null; [ -z "$baseline" ] || cat "$(dirname "$baseline")"/* > /dev/null # warm, like the sha1 run
    local start; start=$(date +%s.%N)
    "$bundlectl" bundle-image -i "$img" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 -d "$out" \
      --ec2cert "$keys/cloud-cert.pem" --level "$level" --slice-mib "$slice_mib" --json --timings ${baseline:+--baseline "$baseline"} > "$out.json" 2> "$out.timings"
    walls+=("$(echo "$(date +%s.%N) - $start" | bc -l)")
    jobs+=("$(phase job "$out.timings")")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median); job=$(printf '%s\n' "${jobs[@]}" | median)
  if grep -q warning "$out.timings"; then echo "unexpected warning: $(cat "$out.timings")" >&2; exit 1; fi
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# The floor: openssl sha1 over the image, warm (median of --runs).
sha1_times=()
for _ in $(seq "$runs"); do
  cat "$image" > /dev/null
  start=$(date +%s.%N); openssl sha1 "$image" > /dev/null; sha1_times+=("$(echo "$(date +%s.%N) - $start" | bc -l)")
done
sha1=$(printf '%s\n' "${sha1_times[@]}" | median)

{
  echo "BundleCluster incremental re-bundling benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM"
  echo "image: $image_bytes bytes, ext4 with about $((size * files_per_gib)) MiB of files; openssl sha1 over it: ${sha1} s (median of $runs); slices of $slice_mib MiB"
} | tee "$report"

dd if=/dev/zero of="$work/fsync-probe" bs=10M count=20 conv=fsync 2> "$work/fsync-probe.txt"; rm -f "$work/fsync-probe"
echo "bundles written to $dest ($(df --output=fstype "$dest" | tail -1)); this machine's disk takes 10 MiB parts with fsync at $(tail -1 "$work/fsync-probe.txt" | sed 's/.*, //')" | tee -a "$report"
{
  echo "full/inc: the full build's time over this one's (wall, job); /sha1: this one's time over openssl sha1's (wall, job)"
  printf '%-6s %-6s %7s %7s %7s %10s %12s %10s %10s %10s %10s\n' level change wall_s job_s reused compressed baseline_MiB full/inc_w full/inc_j wall/sha1 job/sha1
} | tee -a "$report"

for level in $levels; do
  full="$dest/full-$level"
  bundle "$full" "$level" "$image"
  full_wall=$wall; full_job=$job
  slices=$(field "$full.json" slicesCompressed)
  printf '%-6s %-6s %7.2f %7.2f %7s %10s %12s %10s %10s %10.2f %10.2f\n' "$level" full "$full_wall" "$full_job" 0 "$slices" 0 1.00 1.00 \
    "$(echo "$full_wall / $sha1" | bc -l)" "$(echo "$full_job / $sha1" | bc -l)" | tee -a "$report"
  for pct in $changes; do
    changed="$work/changed-$pct.img"
    cp --sparse=always "$image" "$changed"
    python3 - "$changed" "$pct" <<'EOF'
import os, random, sys
path, pct = sys.argv[1], float(sys.argv[2])
slice_size, run = 4 << 20, 256 << 10
size = os.path.getsize(path)
random.seed(int(pct * 1000))
blocks = (size + 512) // slice_size          # 4 MiB blocks aligned with the tar stream's slices (the header is 512 bytes)
chosen = random.sample(range(1, blocks), max(1, round(blocks * pct / 100)))
with open(path, 'r+b') as f:
    for b in chosen:
        start = b * slice_size - 512 + random.randrange(0, slice_size - run)
        source = random.randrange(0, size - run)
        f.seek(source); data = bytearray(f.read(run))
        data[0] ^= 0xff                          # never the same bytes as before, even where both are zeros
        f.seek(start); f.write(data)
EOF
    out="$dest/inc-$level-$pct"
    bundle "$out" "$level" "$changed" "$full/$(basename "$image").manifest.xml"
    "$bundlectl" verify -m "$out/$(basename "$changed").manifest.xml" -k "$keys/user-pk.pem" -c "$keys/user-cert.pem" > /dev/null
    rm -rf "$work/restored" && mkdir -p "$work/restored"
    "$bundlectl" unbundle -m "$out/$(basename "$changed").manifest.xml" -k "$keys/user-pk.pem" -s "$out" -d "$work/restored" > /dev/null
    cmp "$changed" "$work/restored/$(basename "$changed")" || { echo "the incremental bundle did not restore the image" >&2; exit 1; }
    rm -rf "$work/restored"
    printf '%-6s %-6s %7.2f %7.2f %7s %10s %12.1f %10.2f %10.2f %10.2f %10.2f\n' "$level" "$pct%" "$wall" "$job" \
      "$(field "$out.json" slicesReused)" "$(field "$out.json" slicesCompressed)" \
      "$(echo "$(field "$out.json" baselineBytesRead) / 1048576" | bc -l)" "$(echo "$full_wall / $wall" | bc -l)" "$(echo "$full_job / $job" | bc -l)" \
      "$(echo "$wall / $sha1" | bc -l)" "$(echo "$job / $sha1" | bc -l)" | tee -a "$report"
    rm -f "$changed"
  done
done
echo "report: $report"
