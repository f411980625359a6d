#!/usr/bin/env bash
# Runs every test BundleCluster has, on a fresh machine too: installs what the tests need, builds, runs the whole
# solution's tests, and ends with one line of totals: "N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

# The tests check our bytes with the real tools and run real Redis servers; install what a minimal machine lacks
# (Debian package names; afl++ for the one-minute fuzzing smoke run, tests/fuzz/run.sh). The tests start and stop their own Redis instances and S3 test servers (npm fauxqs,
# installed into deploy/s3/ on first use) on 127.0.0.1.
missing=()
for tool in openssl:openssl gzip:gzip tar:tar python3:python3-minimal cmp:diffutils truncate:coreutils redis-server:redis-server redis-cli:redis-tools npm:npm ss:iproute2 afl-fuzz:afl++ mkfifo:coreutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
# The Aspire Dashboard (the real OTLP backend of the telemetry test) is a .NET app that needs libicu and libssl.
ldconfig -p | grep -q 'libicuuc\.so' || missing+=("$(apt-cache search --names-only '^libicu[0-9]+$' | awk '{print $1}' | sort | tail -1)")
ldconfig -p | grep -q 'libssl\.so\.3' || missing+=(libssl3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test prerequisites: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${missing[@]}" || { echo "cannot install ${missing[*]}"; exit 1; }
fi

# --fast: the quick tier for the inner loop, everything but the classes marked [Trait("Tier", "Slow")] (real silo
# processes, S3 test servers, signals, multi-GiB images, containers) and the AFL smoke run. The plain command runs
# everything.
fast=0; args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then fast=1; else args+=("$arg"); fi
done
# [Trait("Tier", "Exclusive")]: tests that load the whole machine or compare timings (containers, the autoscaled
# burst); they run after the rest, one project at a time.
if [ $fast -eq 1 ]; then filter="Tier!=Slow&Tier!=Fuzz&Tier!=Exclusive"; else filter="Tier!=Fuzz&Tier!=Exclusive"; fi

# Build everything first (warnings are errors), so a project no test references cannot rot unnoticed.
dotnet build BundleCluster.sln -nologo -clp:ErrorsOnly || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

# The container tests (tests/BundleCluster.Deploy.Tests) need a Docker engine: Debian's docker.io (a fresh machine has
# only the docker CLI), docker-compose 1.29 and debootstrap for the local base image; kubectl (kustomize) comes with
# the machine. A dockerd this script starts is stopped at the end. The images are built the way a machine without a
# registry builds them: deploy/docker/build-local.sh.
dockerd_pid=""
stop_dockerd() { [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null; dockerd_pid=""; }
trap stop_dockerd EXIT
if [ $fast -eq 0 ]; then
  missing=()
  for tool in dockerd:docker.io docker-compose:docker-compose debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing container prerequisites: ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null || { echo "cannot install ${missing[*]}"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  fi
  if ! docker info >/dev/null 2>&1; then
    dockerd_log="${TMPDIR:-/tmp}/bundlecluster-dockerd.log"
    dockerd > "$dockerd_log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $dockerd_log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  fi
  bash deploy/docker/build-local.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
fi

# Each test project writes its own TestResults/results.trx (one fixed name per project, so none overwrite another).
rm -rf tests/*/TestResults
dotnet test BundleCluster.sln --no-build --logger "trx;LogFileName=results.trx" --filter "$filter" "${args[@]}"
status=$?
# The exclusive tests, then the AFL++ smoke run (both cores busy for a minute): alone, after the rest, so that
# timing-sensitive tests never share the machine with them.
if [ $fast -eq 0 ]; then
  for project in tests/BundleCluster.Deploy.Tests tests/BundleCluster.Cluster.Tests; do
    dotnet test "$project" --no-build --logger "trx;LogFileName=exclusive.trx" --filter "Tier=Exclusive" "${args[@]}" || status=1
  done
  dotnet test tests/BundleCluster.Format.Tests --no-build --logger "trx;LogFileName=fuzz.trx" --filter "Tier=Fuzz" "${args[@]}" || status=1
fi

# dotnet test's own summary is per project; add up the TRX counters into one line CI can read.
passed=0; failed=0; skipped=0; files=0
for trx in tests/*/TestResults/*.trx; do
  [ -e "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  skipped=$((skipped + $(get total) - $(get executed)))
done
if [ "$files" -eq 0 ] && [ "$status" -ne 0 ]; then failed=1; fi  # the build failed before any test ran
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
