#!/bin/sh
# The mutant catalogue: build every fault of ci/mutants.txt into the CPU
# kernels or, for vk_* names, the Vulkan shaders (one at a time,
# -DKVV_FAULT=name), run the default gate on that backend until its
# first failure, and print a table: mutant, caught, first failing case and
# rule, time to catch.  Exit status 0 only when every mutant is caught.
# Usage: ci/mutants.sh [name ...]   (default: all)
# MUTANT_CASES=FILE runs that case file instead of the gate (to see what an
# older case list misses: `kvverify list cases --gate > FILE` on that build).
set -u
cd "$(dirname "$0")/.."
BUILD=${MUTANT_BUILD:-build-mutants}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
LOG=$BUILD/mutant-logs
names=${*:-$(grep -v '^#' ci/mutants.txt | cut -f1)}
matrix=--gate
[ -n "${MUTANT_CASES:-}" ] && matrix="--cases $MUTANT_CASES"

cmake -S . -B "$BUILD" -DKVV_VULKAN=OFF -DKVV_FAULT= >/dev/null || exit 2
mkdir -p "$LOG"
printf '%-24s %-7s %9s  %-8s %s\n' mutant caught "time (s)" rule "first failing case"
missed=0
for m in $names; do
    # vk_* faults live in the Vulkan shaders: that backend is built (its
    # SPIR-V made afresh) and the gate runs on it; the others on the CPU
    case $m in
    vk_*) vk=ON backend=vulkan; rm -rf "$BUILD/kernels/vulkan/spirv" ;;
    *) vk=OFF backend=cpu ;;
    esac
    if ! cmake -S . -B "$BUILD" -DKVV_VULKAN=$vk -DKVV_FAULT="$m" >"$LOG/$m.configure" 2>&1; then
        printf '%-24s %-7s %9s  %-8s %s\n' "$m" NO - - "(does not configure: see $LOG/$m.configure)"
        missed=$((missed + 1))
        continue
    fi
    if ! cmake --build "$BUILD" -j "$JOBS" --target kvverify >"$LOG/$m.build" 2>&1; then
        printf '%-24s %-7s %9s  %-8s %s\n' "$m" NO - - "(does not build: see $LOG/$m.build)"
        missed=$((missed + 1))
        continue
    fi
    t0=$(date +%s.%N)
    "$BUILD/kvverify" run $matrix -b $backend --fail-fast -j "$JOBS" >"$LOG/$m.gate" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
    case_name=$(grep -m1 '^FAIL' "$LOG/$m.gate" | awk '{print $3}')
    rule=$(grep -m1 -A1 '^FAIL' "$LOG/$m.gate" | sed -n '2s/^ *\[\([a-z]*\)\].*/\1/p')
    if [ "$rc" -eq 1 ] && [ -n "$case_name" ]; then
        printf '%-24s %-7s %9s  %-8s %s\n' "$m" yes "$secs" "$rule" "$case_name"
    else
        printf '%-24s %-7s %9s  %-8s %s\n' "$m" NO "$secs" - "(gate exit $rc: see $LOG/$m.gate)"
        missed=$((missed + 1))
    fi
done
# leave the build directory an ordinary build again
cmake -S . -B "$BUILD" -DKVV_VULKAN=OFF -DKVV_FAULT= >/dev/null
rm -rf "$BUILD/kernels/vulkan/spirv"
if [ "$missed" -gt 0 ]; then
    echo "$missed mutant(s) NOT caught"
    exit 1
fi
echo "all mutants caught"
