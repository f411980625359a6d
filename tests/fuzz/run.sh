#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers a stranger's bundle reaches (manifest, tar member, gzip/CBC layers) with
# SharpFuzz-instrumented BundleCluster.Format and AFL++.
#
#   bash tests/fuzz/run.sh MINUTES [TARGET...]   long run: each target (default: all) for MINUTES
#   bash tests/fuzz/run.sh --smoke               about a minute in all (the default test run calls this)
#   FUZZ_OUT=DIR bash tests/fuzz/run.sh ...      work elsewhere than tests/fuzz/out (to run targets side by side)
#
# Installs what is missing (Debian's afl++, the SharpFuzz.CommandLine tool), instruments a private copy of the build,
# starts from tests/fuzz/seeds/TARGET, and prints one line per target. Every crashing or hanging input is copied to
# tests/fuzz/regressions/TARGET/ (replayed by the default test run until fixed) and the script exits 1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ "${1:-}" = "--smoke" ]; then seconds=20; shift; targets=("$@")
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then seconds=$(( $1 * 60 )); shift; targets=("$@")
else echo "usage: bash tests/fuzz/run.sh (MINUTES | --smoke) [manifest|tar|layers ...]" >&2; exit 2; fi
[ ${#targets[@]} -eq 0 ] && targets=(manifest tar layers)

if ! command -v afl-fuzz >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq afl++ >/dev/null || { echo "cannot install afl++" >&2; exit 1; }
fi
tools="$here/.tools"
if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

# A private, instrumented copy: the build the tests use stays uninstrumented.
out="${FUZZ_OUT:-$here/out}"  # FUZZ_OUT: where the instrumented build and findings go (one per concurrent run)
rm -rf "$out/bin"; mkdir -p "$out/bin"
dotnet build "$here/BundleCluster.Fuzz" -c Release -nologo -clp:ErrorsOnly -o "$out/bin" >/dev/null
"$tools/sharpfuzz" "$out/bin/BundleCluster.Format.dll" >/dev/null

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export DOTNET_TieredPGO=0
status=0

if [ "$seconds" -le 60 ]; then
  # The smoke run first proves the harness can fail: the canary target has a planted bug one bit from its seed.
  mkdir -p "$out/canary-seeds" "$out/findings"; printf 'B' > "$out/canary-seeds/seed"; rm -rf "$out/findings/canary"
  for attempt in 1 2 3; do
    rm -rf "$out/findings/canary"
    afl-fuzz -i "$out/canary-seeds" -o "$out/findings/canary" -V 10 -t 5000 -m none \
      -- "$(command -v dotnet)" "$out/bin/bundle-fuzz.dll" canary > "$out/canary.log" 2>&1 || true
    grep -q "No instrumentation detected" "$out/canary.log" || break
    sleep 2
  done
  if [ "$(find "$out/findings/canary/default/crashes" -name 'id:*' 2>/dev/null | wc -l)" -eq 0 ]; then
    echo "canary: the planted bug was not found: the harness cannot see crashes; see $out/canary.log"; exit 1
  fi
  echo "canary: planted bug found (the harness reports crashes)"
fi
for target in "${targets[@]}"; do
  findings="$out/findings/$target"
  rm -rf "$findings"; mkdir -p "$out/findings"
  # -t: a .NET input that takes over 5 s is a hang; -m none: the runtime reserves far more address space than it uses.
  # Under heavy load the first dry run sometimes sees an empty coverage map ("No instrumentation detected": seen once in
  # a busy full test run, never alone); that is the harness starting, not a finding, so it is retried.
  for attempt in 1 2 3; do
    rm -rf "$findings"
    afl-fuzz -i "$here/seeds/$target" -o "$findings" -V "$seconds" -t 5000 -m none \
      -- "$(command -v dotnet)" "$out/bin/bundle-fuzz.dll" "$target" > "$out/$target.log" 2>&1 || true
    grep -q "No instrumentation detected" "$out/$target.log" || break
    sleep 2
  done
  stats="$findings/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "$target: afl-fuzz did not run; see $out/$target.log"; tail -5 "$out/$target.log"; status=1; continue
  fi
  get() { grep "^$1 " "$stats" | sed 's/.*: *//'; }
  crashes=$(find "$findings/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$findings/default/hangs" -name 'id:*' 2>/dev/null | wc -l)
  echo "$target: $(get execs_done) execs in $(get run_time) s ($(get execs_per_sec)/s), $(get corpus_count) paths, $(get bitmap_cvg) coverage, $crashes crashes, $hangs hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    mkdir -p "$here/regressions/$target"
    for f in "$findings"/default/crashes/id:* "$findings"/default/hangs/id:*; do
      [ -e "$f" ] && cp "$f" "$here/regressions/$target/$(basename "$f" | tr ':,' '__')"
    done
    status=1
  fi
done
exit $status
