#!/usr/bin/env bash
# Regenerates the seed corpus in tests/fuzz/seeds/ from real bundles and real tools: a manifest bundlectl wrote and the
# same in euca2ools' style; tar streams from GNU tar (gnu, sparse, pax) and from a bundle; the gzip/CBC layers of a
# bundle. Seeds are kept small (AFL works best on inputs under a few KB). Run from anywhere; commit the result.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
seeds="$here/seeds"
rm -rf "$seeds"; mkdir -p "$seeds/manifest" "$seeds/tar" "$seeds/layers"

bundlectl() { dotnet "$root/src/BundleCluster.Cli/bin/Debug/net10.0/bundlectl.dll" "$@"; }
dotnet build "$root/src/BundleCluster.Cli" -nologo -clp:ErrorsOnly >/dev/null

# A real bundle of a tiny image, with holes.
head -c 3000 /dev/urandom > "$work/seed.img"; truncate -s 20000 "$work/seed.img"
bundlectl keygen -d "$work" -n seed >/dev/null
mkdir "$work/bundle"
bundlectl bundle-image -i "$work/seed.img" -c "$work/seed-cert.pem" -k "$work/seed-pk.pem" -u 123456789012 \
  -d "$work/bundle" --ec2cert "$work/seed-cert.pem" -B ami=sda1,root=/dev/sda1 --productcodes A1,B2 --kernel aki-12345678 >/dev/null 2>&1
cp "$work/bundle/seed.img.manifest.xml" "$seeds/manifest/bundlectl.xml"
# euca2ools' style: declaration with encoding, double quotes, a newline, product_codes before kernel_id.
sed -e "s/<?xml version='1.0'?>/<?xml version='1.0' encoding='ASCII'?>\n/" -e "s/'/\"/g" "$seeds/manifest/bundlectl.xml" > "$seeds/manifest/euca2ools-style.xml"

# Tar streams, one 512-byte record each block (-b 1) so they stay small.
head -c 700 /dev/urandom > "$work/img"
(cd "$work" && tar --format=gnu -b 1 --owner=0 --group=0 -cf "$seeds/tar/gnu.tar" img)
(cd "$work" && tar --format=pax -b 1 --owner=0 --group=0 -cf "$seeds/tar/pax.tar" img)
truncate -s 8192 "$work/img"
(cd "$work" && tar --format=gnu -S -b 1 --owner=0 --group=0 -cf "$seeds/tar/sparse.tar" img)
long="$(printf 'n%.0s' $(seq 1 120))"; cp "$work/img" "$work/$long"
(cd "$work" && tar --format=gnu -b 1 --owner=0 --group=0 -cf "$seeds/tar/longname.tar" "$long")

# The layers: byte 0 even = the rest is the gzip stream (the harness encrypts it), odd = the rest is ciphertext.
gzip -c -9 < "$seeds/tar/gnu.tar" > "$work/gnu.tar.gz"
{ printf '\x00'; cat "$work/gnu.tar.gz"; } > "$seeds/layers/gzip.bin"
{ printf '\x00'; gzip -c -1 < "$seeds/tar/sparse.tar"; } > "$seeds/layers/gzip-sparse.bin"
{ printf '\x01'; openssl enc -e -aes-128-cbc -K 000102030405060708090a0b0c0d0e0f -iv f0e0d0c0b0a090807060504030201000 < "$work/gnu.tar.gz"; } > "$seeds/layers/ciphertext.bin"
ls -l "$seeds"/*
