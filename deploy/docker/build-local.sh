#!/usr/bin/env bash
# Builds every image docker-compose.local.yml names, on a machine that has only Debian's docker.io: no image
# registry, the legacy builder, and no HTTPS inside builds (apt over plain http works). Needs a running Docker
# engine; starts no container and says what it built.
#   bash deploy/docker/build-local.sh [--rebuild-base]
# Images (the base images are kept and reused unless --rebuild-base):
#   bundlecluster-local/debian:bookworm        debootstrap --variant=minbase + ca-certificates, libssl3, curl
#   bundlecluster-local/dotnet-aspnet:10.0     that + this host's .NET and ASP.NET Core runtimes
#   bundlecluster/bundlecluster:local          bundle-silo, bundle-api, bundlectl published here (Dockerfile.prebuilt)
#   bundlecluster-local/redis:7                Debian's redis-server
#   bundlecluster-local/fauxqs:2.4.1           the S3-compatible store (npm fauxqs on Node 22, installed on the host)
#   bundlecluster-local/aspire-dashboard:13.6.5  the OTLP backend (NuGet Aspire.Dashboard.Sdk.linux-x64)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$here/.build"
rebuild_base=0; [ "${1:-}" = "--rebuild-base" ] && rebuild_base=1
docker info >/dev/null 2>&1 || { echo "build-local: no Docker engine answers (start dockerd first)" >&2; exit 1; }
built=()
have() { docker image inspect "$1" >/dev/null 2>&1; }
image() { # image NAME DOCKERFILE CONTEXT
  docker build -q -t "$1" -f "$2" "$3" >/dev/null || { echo "build-local: building $1 failed" >&2; exit 1; }
  built+=("$1 ($(docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1e6}'))")
}

# 1. The Debian base, made with debootstrap (no registry needed).
if [ $rebuild_base -eq 1 ] || ! have bundlecluster-local/debian:bookworm; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null || { echo "build-local: cannot install debootstrap" >&2; exit 1; }
  rootfs="$(mktemp -d /var/tmp/bundlecluster-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=ca-certificates,libssl3,curl bookworm "$rootfs" http://deb.debian.org/debian >"$build.debootstrap.log" 2>&1 \
    || { echo "build-local: debootstrap failed; see $build.debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - bundlecluster-local/debian:bookworm >/dev/null
  rm -rf "$rootfs"; trap - EXIT
  built+=("bundlecluster-local/debian:bookworm")
fi

# 2. The .NET runtime base: this host's runtimes, the versions the programs were built against.
if [ $rebuild_base -eq 1 ] || ! have bundlecluster-local/dotnet-aspnet:10.0; then
  root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  version="$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App 10\./ {v=$2} END {print v}')"
  [ -n "$version" ] && [ -d "$root/shared/Microsoft.AspNetCore.App/$version" ] || { echo "build-local: no .NET 10 and ASP.NET Core 10 runtime of one version under $root" >&2; exit 1; }
  rm -rf "$build/runtime" && mkdir -p "$build/runtime/dotnet/shared"
  cp -a "$root/dotnet" "$root/host" "$root/LICENSE.txt" "$root/ThirdPartyNotices.txt" "$build/runtime/dotnet/"
  for fx in Microsoft.NETCore.App Microsoft.AspNetCore.App; do
    mkdir -p "$build/runtime/dotnet/shared/$fx" && cp -a "$root/shared/$fx/$version" "$build/runtime/dotnet/shared/$fx/"
  done
  image bundlecluster-local/dotnet-aspnet:10.0 "$here/local/dotnet-aspnet.Dockerfile" "$build/runtime"
fi

# 3. Our image, from programs published on this host into one folder: they share every dependency at one version
#    (central package versions), so one copy of each (75 MB instead of 190 MB for three folders).
rm -rf "$build/context" && mkdir -p "$build/context"
for program in silo:Silo api:Api cli:Cli; do
  dotnet publish "$repo/src/BundleCluster.${program#*:}" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$build/context/out" -nologo -v q >/dev/null || { echo "build-local: dotnet publish of ${program#*:} failed" >&2; exit 1; }
done
cp -a "$here/commands" "$build/context/commands"
image bundlecluster/bundlecluster:local "$here/Dockerfile.prebuilt" "$build/context"

# 4. The other services of docker-compose.local.yml.
image bundlecluster-local/redis:7 "$here/local/redis.Dockerfile" "$here/local"
bash "$repo/deploy/s3-server.sh" install
image bundlecluster-local/fauxqs:2.4.1 "$here/local/fauxqs.Dockerfile" "$repo/deploy/s3"
dashboard="${NUGET_PACKAGES:-$HOME/.nuget/packages}/aspire.dashboard.sdk.linux-x64/13.6.5/tools"
if [ ! -x "$dashboard/Aspire.Dashboard" ]; then
  dotnet restore "$repo/tests/BundleCluster.Cluster.Tests" -nologo -v q >/dev/null || { echo "build-local: cannot restore Aspire.Dashboard.Sdk.linux-x64" >&2; exit 1; }
fi
# NuGet extracts files for their owner only; the dashboard runs as uid 10001 (fixed here, not in a layer of its own).
rm -rf "$build/aspire" && cp -a "$dashboard" "$build/aspire" && chmod -R a+rX "$build/aspire"
image bundlecluster-local/aspire-dashboard:13.6.5 "$here/local/aspire-dashboard.Dockerfile" "$build/aspire"

echo "build-local: built ${#built[@]} images:"
printf '  %s\n' "${built[@]}"
