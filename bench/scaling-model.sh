#!/usr/bin/env bash
# The scaling model: from the per-stage costs measured on one core, the throughput to expect from S silos of N cores.
#   usage: bench/scaling-model.sh IMAGE_BYTES TAR_SHA1_S DEFLATE_S AES_S PART_SHA1_S [CORES_PER_SILO...]
# Per image byte, compression is spread over every core of every silo, but two stages are sequential per job: the
# tar-stream SHA-1 (one core, wherever the digest grain lives) and CBC sealing with the part SHA-1s (one core of the
# sealer's silo). So T(S, N) = min(S*N / (d + h + a + p), 1/h, 1/(a + p)) with d, h, a, p the seconds per image MB.
set -euo pipefail
bytes=$1; h_s=$2; d_s=$3; a_s=$4; p_s=$5; shift 5
cores_list=${*:-2 8}
mb=$(echo "$bytes / 1000000" | bc -l)
printf 'scaling model (MB/s of image; sequential caps: tar SHA-1 %.0f, sealing %.0f)\n' \
  "$(echo "$mb / $h_s" | bc -l)" "$(echo "$mb / ($a_s + $p_s)" | bc -l)"
printf '%-14s' "cores/silo"; for s in 1 2 4 8 16; do printf '%10s' "$s silo$([ $s -gt 1 ] && echo s)"; done; echo
for n in $cores_list; do
  printf '%-14s' "$n"
  for s in 1 2 4 8 16; do
    t=$(echo "m = $mb; c = $s * $n * m / ($h_s + $d_s + $a_s + $p_s); x = m / $h_s; y = m / ($a_s + $p_s);
      if (x < c) c = x; if (y < c) c = y; c" | bc -l)
    flag=""; [ "$(echo "$t >= $mb / $h_s - 0.5" | bc -l)" = 1 ] && flag="*"
    printf '%10s' "$(printf '%.0f%s' "$t" "$flag")"
  done
  echo
done
echo "* = capped by the sequential tar-stream SHA-1"
