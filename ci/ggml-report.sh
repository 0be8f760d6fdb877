#!/bin/sh
# The attention part of README's ggml report, reproducible: every K/V pair
# of ggml's nine upstream cache types at head dims 64, 128 and 256, on three
# shapes (decode over 512 keys, Gaussian and outlier-channel inputs;
# prefill of 64 causal queries over 256 keys), through kvverify's runner
# and oracle.  Prints one markdown table per head dim: worst arith ratio /
# worst budget ratio over the three shapes, K type down, V type across;
# a failing pair is marked FAIL.
#   ci/ggml-report.sh [BACKEND]      (default ggml-cpu; e.g. ggml-vulkan:vkdev=0)
# GGML_REPORT_TYPES, GGML_REPORT_DIMS narrow the matrix; GGML_REPORT_ARGS go to kvverify run
# (e.g. "-j 1 --timeout 900" for lavapipe, which compiles each new pipeline for minutes).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
backend=${1:-ggml-cpu}
types=${GGML_REPORT_TYPES:-"f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl"}
dims=${GGML_REPORT_DIMS:-"64 128 256"}
cases=$(mktemp)
log=$(mktemp)
trap 'rm -f "$cases" "$log"' EXIT
for d in $dims; do for k in $types; do for v in $types; do
    echo "attn/d$d/$k-$v/nq1/nkv512/h8/gqa4/dist=gauss/seed=11"
    echo "attn/d$d/$k-$v/nq1/nkv512/h8/gqa4/dist=outlier/seed=12"
    echo "attn/d$d/$k-$v/nq64/nkv256/h4/gqa2/mask=causal/dist=gauss/seed=13"
done; done; done >"$cases"
# shellcheck disable=SC2086
"$build/kvverify" run -b "$backend" -v ${GGML_REPORT_ARGS:-} --cases "$cases" >"$log" 2>&1 || true
grep "checks:" "$log"
awk -v types="$types" -v dims="$dims" '
    $1 == "pass" || $1 == "FAIL" {
        split($3, p, "/"); d = substr(p[2], 2); kv = p[3]
        a = 0; b = 0
        for (i = 4; i < NF; i++) { if ($i == "arith") a = $(i + 1); if ($i == "budget") b = $(i + 1) }
        key = d SUBSEP kv
        if (!(key in A) || a + 0 > A[key] + 0) A[key] = a
        if (!(key in B) || b + 0 > B[key] + 0) B[key] = b
        if ($1 == "FAIL") F[key] = 1
    }
    END {
        nt = split(types, T, " "); nd = split(dims, D, " ")
        for (x = 1; x <= nd; x++) {
            printf "\nhead_dim %s (arith / budget; K down, V across):\n\n| K |", D[x]
            for (j = 1; j <= nt; j++) printf " %s |", T[j]
            printf "\n|---|"; for (j = 1; j <= nt; j++) printf "---|"; printf "\n"
            for (i = 1; i <= nt; i++) {
                printf "| %s |", T[i]
                for (j = 1; j <= nt; j++) {
                    key = D[x] SUBSEP T[i] "-" T[j]
                    if (!(key in A)) { printf " - |"; continue }
                    printf " %s%.2g / %.2g |", (key in F) ? "FAIL " : "", A[key], B[key]
                }
                printf "\n"
            }
        }
    }' "$log"
