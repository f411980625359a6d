#!/usr/bin/env bash
# Builds a realistic raw disk image without mounting anything: an ext4 file system (mke2fs -d) holding a deterministic
# selection of this machine's own files — binaries, libraries, text and compressed docs — plus free space.
# usage: bench/make-image.sh OUTPUT SIZE_GIB FILES_MB
set -euo pipefail
out=$1; size_gib=$2; files_mb=$3
stage=$(mktemp -d "$(dirname "$out")/image-files.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Sorted paths, so the same machine always yields the same selection; files over 64 MiB are skipped so no single
# file dominates. Sources mix ELF binaries and libraries, text and already-compressed documentation.
budget=$((files_mb * 1024 * 1024)); total=0
while IFS= read -r -d '' f; do
  size=$(stat -c %s "$f")
  [ "$size" -gt 67108864 ] && continue
  mkdir -p "$stage$(dirname "$f")"
  cp -p "$f" "$stage$f" 2>/dev/null || continue
  total=$((total + size))
  [ "$total" -ge "$budget" ] && break
done < <(find /usr/bin /usr/lib /usr/share /usr/libexec /etc -xdev -type f -readable -print0 2>/dev/null | sort -z)

rm -f "$out"
mke2fs -q -t ext4 -F -d "$stage" -L bench "$out" "${size_gib}G"
echo "$out: ${size_gib} GiB ext4 image holding $((total / 1048576)) MiB of files ($(du -m "$out" | cut -f1) MiB allocated)"
