#!/bin/sh
# The nightly gate: run the full matrix on every backend this machine has,
# write every report into a dated folder, and compare the per-case error
# ratios with the stored baseline.  Fails (exit 1) when a case's ratio grew
# beyond the factor, a pass became a fail, a new case fails, or the run
# itself could not finish; prints what changed either way.
#
#   ci/nightly.sh [--out DIR] [--baseline FILE] [--factor F] [--floor R]
#                 [--matrix full|gate] [--build DIR] [--no-build]
#                 [--update-baseline] [-- extra `kvverify run` options]
#
# Environment (the options win): KVV_NIGHTLY_OUT, KVV_NIGHTLY_BASELINE,
# KVV_NIGHTLY_FACTOR, KVV_NIGHTLY_FLOOR, KVV_NIGHTLY_MATRIX, KVV_BUILD.
#
# The reports: DIR/results.jsonl, junit.xml, summary.md, report.html,
# ratios.tsv (the run), compare.txt (against the baseline), run.log.
# --update-baseline copies ratios.tsv over the baseline after the run
# (review and commit it; the gate does not judge that run).
set -eu
cd "$(dirname "$0")/.."

out=${KVV_NIGHTLY_OUT:-}
matrix=${KVV_NIGHTLY_MATRIX:-full}
baseline=${KVV_NIGHTLY_BASELINE:-}
factor=${KVV_NIGHTLY_FACTOR:-2}
floor=${KVV_NIGHTLY_FLOOR:-0.01}
build=${KVV_BUILD:-build-nightly}
do_build=1
update=0
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --factor) factor=$2; shift 2 ;;
    --floor) floor=$2; shift 2 ;;
    --matrix) matrix=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --update-baseline) update=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "nightly: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$matrix" in
full|gate) ;;
*) echo "nightly: --matrix is full or gate, not '$matrix'" >&2; exit 2 ;;
esac
[ -n "$out" ] || out=reports-out/$(date -u +%Y-%m-%d)
[ -n "$baseline" ] || baseline=ci/baseline/$matrix.tsv

if [ "$do_build" = 1 ]; then
    ./ci/install-deps.sh
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target kvverify >/dev/null
fi
kvv=$build/kvverify
[ -x "$kvv" ] || { echo "nightly: $kvv not found (build first, or drop --no-build)" >&2; exit 2; }

# Backends: every built-in one this build has.  Vulkan only when a device is
# there: `kvverify list devices` says so where the build has it; without
# that subcommand, assume none rather than fail every Vulkan case.
backends=""
for b in $("$kvv" list backends | tr ',' ' '); do
    if [ "$b" = vulkan ]; then
        if devices=$("$kvv" list devices 2>/dev/null) && [ -n "$(printf '%s' "$devices" | grep -iv '^no ')" ]; then
            :
        else
            echo "nightly: no Vulkan device (or no 'kvverify list devices'): vulkan left out"
            continue
        fi
    fi
    backends=${backends:+$backends,}$b
done
[ -n "$backends" ] || { echo "nightly: no backend to run" >&2; exit 2; }

mkdir -p "$out"
echo "nightly: $matrix matrix on $backends; reports in $out"
start=$(date +%s)
set +e
"$kvv" run "--$matrix" -b "$backends" --report-dir "$out" "$@" >"$out/run.log" 2>&1
run_status=$?
set -e
tail -n 25 "$out/run.log"
echo "nightly: run finished in $(( $(date +%s) - start )) s with status $run_status"
# 0 all passed, 1 some failed (the comparison decides), anything else: the
# run itself broke (bad usage, interrupted, a report not written)
if [ "$run_status" -gt 1 ] || [ ! -s "$out/ratios.tsv" ] || grep -q '^# interrupted' "$out/ratios.tsv"; then
    echo "nightly: FAIL: the run did not complete (status $run_status)" >&2
    exit 1
fi

if [ "$update" = 1 ]; then
    mkdir -p "$(dirname "$baseline")"
    cp "$out/ratios.tsv" "$baseline"
    echo "nightly: baseline $baseline updated from this run; review and commit it"
    exit 0
fi
if [ ! -f "$baseline" ]; then
    echo "nightly: FAIL: no baseline $baseline (make one with --update-baseline)" >&2
    exit 1
fi
set +e
"$kvv" compare "$baseline" "$out/ratios.tsv" --factor "$factor" --floor "$floor" >"$out/compare.txt" 2>&1
cmp_status=$?
set -e
cat "$out/compare.txt"
if [ "$cmp_status" -ne 0 ]; then
    echo "nightly: FAIL: regressions against $baseline (see $out/compare.txt)" >&2
    exit 1
fi
echo "nightly: PASS: no regression against $baseline"
