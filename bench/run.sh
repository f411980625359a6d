#!/usr/bin/env bash
# The BundleCluster benchmark: the classic ec2-bundle-image pipeline (gzip, then pigz) against `bundlectl
# bundle-image` on the embedded silo, on the same realistic disk image at the same levels, plus the machine's
# ceiling and a 16 GiB mostly-zeros image. Prints a report and saves it under bench/work/.
#
#   bash bench/run.sh [--size-gib 2] [--files-mib 1024] [--levels "6 9"] [--zeros-gib 16] [--no-zeros]
#
# Needs about size + zeros-gib/2 + 3 GiB of disk under bench/work (BENCH_WORK overrides). Not part of the tests.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
size_gib=2; files_mib=1024; levels="6 9"; zeros_gib=16; run_zeros=1
while [ $# -gt 0 ]; do
  case "$1" in
    --size-gib) size_gib=$2; shift 2 ;;
    --files-mib) files_mib=$2; shift 2 ;;
    --levels) levels=$2; shift 2 ;;
    --zeros-gib) zeros_gib=$2; shift 2 ;;
    --no-zeros) run_zeros=0; shift ;;
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

head -c 4096 /dev/urandom > "$work/warmup.img"
rm -rf "$work/warmup" && mkdir -p "$work/warmup"
"$bundlectl" bundle-image -i "$work/warmup.img" -c "$keys/user-cert.pem" -k "$keys/user-pk.pem" -u 123456789012 \
  -d "$work/warmup" --ec2cert "$keys/cloud-cert.pem" >/dev/null

image="$work/disk-${size_gib}g.img"
[ -f "$image" ] || bash "$repo/bench/make-image.sh" "$image" "$size_gib" "$files_mib"
image_bytes=$(stat -c %s "$image")

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
ours() { # IMAGE LEVEL OUTDIR
  local img=$1 level=$2 out=$3
  rm -rf "$out" "$work/tmp" && mkdir -p "$out" "$work/tmp"
  echo "TMPDIR='$work/tmp' '$bundlectl' bundle-image -i '$img' -c '$keys/user-cert.pem' -k '$keys/user-pk.pem' -u 123456789012 \
    -d '$out' --ec2cert '$keys/cloud-cert.pem' --level $level > '$out.summary'"
}
verify_ours() { # OUTDIR NAME
  "$bundlectl" verify -m "$1/$2.manifest.xml" -k "$keys/user-pk.pem" -c "$keys/user-cert.pem" >/dev/null \
    || { echo "bundlectl's bundle did not verify; no numbers reported" | tee -a "$report"; exit 1; }
  [ -z "$(ls -A "$work/tmp")" ] || { echo "bundlectl used temp space outside the destination" | tee -a "$report"; exit 1; }
}

{
  echo "BundleCluster benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; $(uname -r)"
  echo "image: $image_bytes bytes ($(du -m "$image" | cut -f1) MiB allocated): ext4 (mke2fs -d) with ${files_mib} MiB of this machine's files"
  echo
} | tee "$report"

for level in $levels; do
  measure "$image" "$(classic "$image" "$level" gzip "$work/classic")"
  c_wall=$wall; c_cpu=$cpu; c_rss=$rss; c_size=$(dir_bytes "$work"/classic/image.part.*)
  measure "$image" "$(classic "$image" "$level" "pigz -p $cores" "$work/pigz")"
  p_wall=$wall; p_cpu=$cpu; p_rss=$rss; p_size=$(dir_bytes "$work"/pigz/image.part.*)
  measure "$image" "$(ours "$image" "$level" "$work/ours")"
  o_wall=$wall; o_cpu=$cpu; o_rss=$rss; o_size=$(dir_bytes "$work"/ours/*.part.*)
  verify_ours "$work/ours" "$(basename "$image")"

  # The ceiling: each stage alone on one core; cores / sum of per-byte costs, capped by the slowest sequential stage.
  eval "$("$bench" stages "$image" "$level")"
  ceiling=$(echo "b = $image_bytes / 1000000; c = $cores * b / ($tar_sha1_s + $deflate_s + $aes_s + $part_sha1_s);
    s1 = b / $tar_sha1_s; s2 = b / $aes_s; if (s1 < c) c = s1; if (s2 < c) c = s2; c" | bc -l)

  echo "level $level" | tee -a "$report"
  line "pipeline" "wall s" "MB/s" "CPU s" "RSS MiB" "bundle MiB"
  line "(a) tar|gzip|openssl, split, sha1" "$c_wall" "$(mbps "$image_bytes" "$c_wall")" "$c_cpu" "$c_rss" "$((c_size / 1048576))"
  line "(b) same with pigz -p $cores" "$p_wall" "$(mbps "$image_bytes" "$p_wall")" "$p_cpu" "$p_rss" "$((p_size / 1048576))"
  line "(c) bundlectl bundle-image" "$o_wall" "$(mbps "$image_bytes" "$o_wall")" "$o_cpu" "$o_rss" "$((o_size / 1048576))"
  {
    printf 'stages on one core (s): tar sha1 %s, deflate %s, aes-cbc %s, part sha1 %s -> ceiling %.1f MB/s\n' \
      "$tar_sha1_s" "$deflate_s" "$aes_s" "$part_sha1_s" "$ceiling"
    printf 'ratios: (c)/(a) %.2fx   (c)/(b) %.2fx   (c) at %.0f%% of ceiling   bundle size (c) vs (a) %+.2f%%\n' \
      "$(echo "$c_wall / $o_wall" | bc -l)" "$(echo "$p_wall / $o_wall" | bc -l)" \
      "$(echo "100 * $image_bytes / 1000000 / $o_wall / $ceiling" | bc -l)" "$(echo "100 * ($o_size - $c_size) / $c_size" | bc -l)"
    bash "$repo/bench/scaling-model.sh" "$image_bytes" "$tar_sha1_s" "$deflate_s" "$aes_s" "$part_sha1_s" "$cores" 8
    echo
  } | tee -a "$report"
done

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
rm -rf "$work/classic" "$work/pigz" "$work/ours" "$work/tmp"
echo "report saved: $report"
