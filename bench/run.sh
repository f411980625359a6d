#!/usr/bin/env bash
# The BundleCluster benchmark: the classic ec2-bundle-image pipeline (gzip, then pigz) against `bundlectl
# bundle-image` on the embedded silo, on realistic disk images (1 and 4 GiB by default) at the same levels, beside the
# machine's ideal (from each stage's cost measured alone), the Format library's in-process engine doing the same work,
# and where bundlectl's time goes (start-up, job, shutdown); then a 1 MiB image end to end, a 16 GiB mostly-zeros
# image, and scaling across silos pinned to cores (bench/cluster.sh). Prints a report and saves it under bench/work/.
#
#   bash bench/run.sh [--sizes "1 4"] [--files-mib-per-gib 500] [--levels "6 9"] [--zeros-gib 16] [--no-zeros] [--no-cluster]
#
# --levels applies to the first size; the others run at level 6. Needs about sum(sizes) + zeros-gib/2 + 3 GiB of disk
# under bench/work (BENCH_WORK overrides). Not part of the tests.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
sizes="1 4"; files_per_gib=500; levels="6 9"; zeros_gib=16; run_zeros=1; run_cluster=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    --size-gib) sizes=$2; shift 2 ;; # the old single-size flag
    --files-mib-per-gib) files_per_gib=$2; shift 2 ;;
    --levels) levels=$2; shift 2 ;;
    --zeros-gib) zeros_gib=$2; shift 2 ;;
    --no-zeros) run_zeros=0; shift ;;
    --no-cluster) run_cluster=0; shift ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
work="${BENCH_WORK:-$repo/bench/work}"
mkdir -p "$work"
cores=$(nproc)
report="$work/report-$(date -u +%Y%m%dT%H%M%SZ).txt"

# --- tools ------------------------------------------------------------------------------------------------------
missing=()
for tool in pigz:pigz mke2fs:e2fsprogs openssl:openssl /usr/bin/time:time; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
echo "building bundlectl (Release, ReadyToRun) and bundle-bench ..."
dotnet publish "$repo/src/BundleCluster.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$work/bin" -nologo -v q >/dev/null
dotnet build "$repo/bench/BundleCluster.Bench" -c Release -o "$work/bench-bin" -nologo -v q >/dev/null
bundlectl="$work/bin/bundlectl"
bench="$work/bench-bin/bundle-bench"

keys="$work/keys"
if [ ! -f "$keys/user-pk.pem" ]; then
  mkdir -p "$keys"
  "$bundlectl" keygen -d "$keys" -n user >/dev/null
  "$bundlectl" keygen -d "$keys" -n cloud >/dev/null
fi

# The programs' start-up JIT profiles (StartupJitProfile) live with the benchmark, not in the user's cache; the
# warm-up job below records bundle-image's, as any user's first run does.
export BUNDLECLUSTER_JIT_PROFILE_DIR="$work/jit-profiles"
rm -rf "$BUNDLECLUSTER_JIT_PROFILE_DIR"
head -c 4096 /dev/urandom > "$work/warmup.img"
rm -rf "$work/warmup" && mkdir -p "$work/warmup"
"$bundlectl" bundle-image -i "$work/warmup.img" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 \
  -d "$work/warmup" --ec2cert "$keys/cloud-cert.pem" >/dev/null


# --- measuring ----------------------------------------------------------------------------------------------------
# measure IMAGE COMMAND: runs COMMAND under /usr/bin/time; sets wall, cpu (user+sys) and rss (MiB, largest process).
# Every pipeline starts warm: the image in the page cache, and each tool run once before (bundlectl on a tiny image),
# so the numbers are throughput, not how fast the disk loads a runtime.
measure() {
  sync
  cat "$1" >/dev/null 2>&1 || true
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" bash -c "$2"
  read -r wall user sys rss_kb < "$work/time.txt"
  cpu=$(echo "$user + $sys" | bc -l); rss=$((rss_kb / 1024))
}
mbps() { echo "scale=1; $1 / 1000000 / $2" | bc -l; }
dir_bytes() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }
line() { printf '%-34s %8s %9s %8s %9s %11s\n' "$@" | tee -a "$report"; }

key=$(openssl rand -hex 16); iv=$(openssl rand -hex 16)
# The classic pipeline as ec2-bundle-image runs it (bundle.rb): tar | tee digest-pipe | COMPRESSOR | openssl enc,
# openssl sha1 reading the pipe; then split into 10 MiB parts and a SHA-1 pass over every part.
classic() { # IMAGE LEVEL COMPRESSOR OUTDIR
  local img=$1 level=$2 compressor=$3 out=$4
  rm -rf "$out" && mkdir -p "$out"
  echo "mkfifo '$out/digest-pipe'
    openssl sha1 < '$out/digest-pipe' > '$out/digest' &
    tar -c -h -S --owner 0 --group 0 -C '$(dirname "$img")' '$(basename "$img")' | tee '$out/digest-pipe' \
      | $compressor -$level -c | openssl enc -e -aes-128-cbc -K $key -iv $iv > '$out/image.tar.gz.enc'
    wait
    split -b 10485760 -a 3 -d '$out/image.tar.gz.enc' '$out/image.part.'
    rm '$out/image.tar.gz.enc' '$out/digest-pipe'
    for p in '$out'/image.part.*; do openssl sha1 \"\$p\"; done > '$out/part-digests'"
}
ours() { # IMAGE LEVEL OUTDIR ; bundlectl's --timings line goes to OUTDIR.timings
  local img=$1 level=$2 out=$3
  rm -rf "$out" "$work/tmp" && mkdir -p "$out" "$work/tmp"
  echo "TMPDIR='$work/tmp' '$bundlectl' bundle-image -i '$img' -c '$keys/user-cert.pem' -k '$keys/user-pk.pem' -u 123456789012 \
    -d '$out' --ec2cert '$keys/cloud-cert.pem' --level $level --timings > '$out.summary' 2> '$out.timings'"
}
phase() { sed -n "s/.* $1 \([0-9.]*\) s.*/\1/p" "$2"; } # PHASE TIMINGS-FILE -> seconds
verify_ours() { # OUTDIR NAME
  "$bundlectl" verify -m "$1/$2.manifest.xml" -k "$keys/user-pk.pem" -c "$keys/user-cert.pem" >/dev/null \
    || { echo "bundlectl's bundle did not verify; no numbers reported" | tee -a "$report"; exit 1; }
  [ -z "$(ls -A "$work/tmp")" ] || { echo "bundlectl used temp space outside the destination" | tee -a "$report"; exit 1; }
}

{
  echo "BundleCluster benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; $(uname -r)"
  echo
} | tee "$report"

first_size=${sizes%% *}
for size in $sizes; do
  image="$work/disk-${size}g.img"
  files_mib=$((size * files_per_gib))
  [ -f "$image" ] || bash "$repo/bench/make-image.sh" "$image" "$size" "$files_mib"
  image_bytes=$(stat -c %s "$image")
  echo "image: $image_bytes bytes ($(du -m "$image" | cut -f1) MiB allocated): ext4 (mke2fs -d) with about ${files_mib} MiB of this machine's files" | tee -a "$report"
  size_levels=$levels; [ "$size" = "$first_size" ] || size_levels=6
  for level in $size_levels; do
    measure "$image" "$(classic "$image" "$level" gzip "$work/classic")"
    c_wall=$wall; c_cpu=$cpu; c_rss=$rss; c_size=$(dir_bytes "$work"/classic/image.part.*)
    measure "$image" "$(classic "$image" "$level" "pigz -p $cores" "$work/pigz")"
    p_wall=$wall; p_cpu=$cpu; p_rss=$rss; p_size=$(dir_bytes "$work"/pigz/image.part.*)
    measure "$image" "$(ours "$image" "$level" "$work/ours")"
    o_wall=$wall; o_cpu=$cpu; o_rss=$rss; o_size=$(dir_bytes "$work"/ours/*.part.*)
    verify_ours "$work/ours" "$(basename "$image")"
    o_start=$(phase start-up "$work/ours.timings"); o_job=$(phase job "$work/ours.timings"); o_stop=$(phase shutdown "$work/ours.timings")
    # The engine: the same pipeline in one process without Orleans (bundle-bench engine), parts staged to disk too.
    rm -rf "$work/engine" && mkdir -p "$work/engine"
    measure "$image" "'$bench' engine '$image' $level 4 '$work/engine' > '$work/engine.out'"
    e_wall=$wall; e_cpu=$cpu; e_rss=$rss; e_job=$(sed -n 's/^engine_s=\([0-9.]*\).*/\1/p' "$work/engine.out")

    # The ideal: each stage alone on one core; cores / sum of per-byte costs, capped by the slowest sequential stage.
    eval "$("$bench" stages "$image" "$level" | grep -E '^[a-z0-9_]+=[0-9.]+$')"
    ceiling=$(echo "b = $image_bytes / 1000000; c = $cores * b / ($tar_sha1_s + $deflate_s + $aes_s + $part_sha1_s);
      s1 = b / $tar_sha1_s; s2 = b / $aes_s; if (s1 < c) c = s1; if (s2 < c) c = s2; c" | bc -l)
    ideal=$(echo "$image_bytes / 1000000 / $ceiling" | bc -l)

    echo "level $level" | tee -a "$report"
    line "pipeline" "wall s" "MB/s" "CPU s" "RSS MiB" "bundle MiB"
    line "(a) tar|gzip|openssl, split, sha1" "$c_wall" "$(mbps "$image_bytes" "$c_wall")" "$c_cpu" "$c_rss" "$((c_size / 1048576))"
    line "(b) same with pigz -p $cores" "$p_wall" "$(mbps "$image_bytes" "$p_wall")" "$p_cpu" "$p_rss" "$((p_size / 1048576))"
    line "(c) bundlectl bundle-image" "$o_wall" "$(mbps "$image_bytes" "$o_wall")" "$o_cpu" "$o_rss" "$((o_size / 1048576))"
    line "(e) engine, in process" "$e_wall" "$(mbps "$image_bytes" "$e_wall")" "$e_cpu" "$e_rss" "-"
    {
      printf 'stages on one core (s): tar sha1 %s, deflate %s, aes-cbc %s, part sha1 %s -> ideal %.2f s (%.1f MB/s)\n' \
        "$tar_sha1_s" "$deflate_s" "$aes_s" "$part_sha1_s" "$ideal" "$ceiling"
      printf '(c) split: start-up %s s, job %s s, shutdown %s s; (e) engine: %s s of pipeline\n' "$o_start" "$o_job" "$o_stop" "$e_job"
      printf 'ratios: (c)/(a) %.2fx   (c)/(b) %.2fx   (c) at %.2fx the ideal   (c) job at %.2fx the engine   bundle size (c) vs (a) %+.2f%%\n' \
        "$(echo "$c_wall / $o_wall" | bc -l)" "$(echo "$p_wall / $o_wall" | bc -l)" "$(echo "$o_wall / $ideal" | bc -l)" \
        "$(echo "$o_job / $e_job" | bc -l)" "$(echo "100 * ($o_size - $c_size) / $c_size" | bc -l)"
      bash "$repo/bench/scaling-model.sh" "$image_bytes" "$tar_sha1_s" "$deflate_s" "$aes_s" "$part_sha1_s" "$cores" 8
      echo
    } | tee -a "$report"
  done
done

# A 1 MiB image end to end: what start-up costs a small job (median of 7 runs).
head -c $((1 << 20)) /dev/urandom > "$work/small.img"
for _ in 1 2 3 4 5 6 7; do
  measure "$work/small.img" "$(ours "$work/small.img" 6 "$work/ours")"
  echo "$wall $(sed 's/.*timings: //' "$work/ours.timings")"
done | sort -n > "$work/small.txt"
echo "1 MiB image, median of 7: $(sed -n 4p "$work/small.txt" | awk '{$1 = $1 " s wall:"; print}')" | tee -a "$report"
echo | tee -a "$report"

if [ "$run_zeros" -eq 1 ]; then
  zimg="$work/zeros-${zeros_gib}g.img"
  if [ ! -f "$zimg" ]; then
    # Mostly zeros, both kinds: holes (never written) and written zeros (real blocks), plus a little data.
    truncate -s "${zeros_gib}G" "$zimg"
    head -c $((64 << 20)) /dev/urandom | dd of="$zimg" conv=notrunc status=none
    dd if=/dev/zero of="$zimg" bs=4M seek=$((1 << 8)) count=$((zeros_gib * 256 / 2 - 256)) conv=notrunc status=none
    head -c $((64 << 20)) /dev/urandom | dd of="$zimg" bs=1M seek=$((zeros_gib * 1024 - 128)) conv=notrunc status=none
  fi
  zbytes=$(stat -c %s "$zimg")
  measure "$zimg" "openssl sha1 < '$zimg' > /dev/null"
  s_wall=$wall
  measure "$zimg" "$(classic "$zimg" 6 "pigz -p $cores" "$work/pigz")"
  p_wall=$wall; p_rss=$rss; p_size=$(dir_bytes "$work"/pigz/image.part.*)
  measure "$zimg" "$(ours "$zimg" 6 "$work/ours")"
  o_wall=$wall; o_rss=$rss; o_size=$(dir_bytes "$work"/ours/*.part.*); o_cpu=$cpu
  verify_ours "$work/ours" "$(basename "$zimg")"
  echo "mostly-zeros image: $zbytes bytes ($(du -m "$zimg" | cut -f1) MiB allocated: written zeros and 128 MiB of data; the rest holes), level 6" | tee -a "$report"
  line "pipeline" "wall s" "MB/s" "CPU s" "RSS MiB" "bundle MiB"
  line "openssl sha1 < image" "$s_wall" "$(mbps "$zbytes" "$s_wall")" "-" "-" "-"
  line "(b) tar|pigz|openssl, split, sha1" "$p_wall" "$(mbps "$zbytes" "$p_wall")" "-" "$p_rss" "$((p_size / 1048576))"
  line "(c) bundlectl bundle-image" "$o_wall" "$(mbps "$zbytes" "$o_wall")" "$o_cpu" "$o_rss" "$((o_size / 1048576))"
  printf '(c) at %.0f%% of openssl sha1 speed; (c)/(b) %.2fx\n' "$(echo "100 * $s_wall / $o_wall" | bc -l)" \
    "$(echo "$p_wall / $o_wall" | bc -l)" | tee -a "$report"
fi
rm -rf "$work/classic" "$work/pigz" "$work/ours" "$work/tmp" "$work/engine"
if [ "$run_cluster" -eq 1 ]; then
  echo | tee -a "$report"
  bash "$repo/bench/cluster.sh" --image "$work/disk-${first_size}g.img" | grep -v '^building\|^report:' | tee -a "$report"
fi
echo "report saved: $report"
