#!/bin/sh
# `make fork-check FORK=DIR`: kvverify's gate against a TurboQuant fork of
# llama.cpp, built from its git directory (the fetch tool's mirror of
# github.com/TheTom/llama-cpp-turboquant, or any clone's .git).
#
#   ci/fork-check.sh FORK_GIT_DIR [COMMIT]
#
# Builds COMMIT (default: the head of feature/turboquant-kv-cache, else HEAD)
# with ci/fork-build.sh into .deps/fork/<commit>, prints which format
# version the probe finds for each of its TurboQuant types, runs the gate on
# its CPU device (the generated cases in the versions it stores, its WHT
# cases on its own ggml_turbo_wht), then every TurboQuant attention and ppl
# case of the gate again through the fork's own rotation graph (rot=graph),
# and compares the failures with ci/fork-known.txt, the differences already
# understood, each with its reason.  With FORK_VULKAN=1 it also builds the
# fork's Vulkan backend and runs the gate's quantize, dequantize and WHT
# cases and the attention cases of ci/fork-cases/vulkan-attention.cases on
# it (vkdev=0: lavapipe on a machine without a GPU, where the attention
# cases take most of an hour; a GPU runs them in seconds).  Exit status: 0 when every failure is
# known, 1 for one that is not (or a build or run that did not happen),
# 2 without a fork.
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ -z "$1" ]; then
    cat >&2 <<'EOF'
fork-check: which fork?  make fork-check FORK=DIR, with DIR a git directory of a TurboQuant fork:
    a clone:  git clone https://github.com/TheTom/llama-cpp-turboquant && make fork-check FORK=llama-cpp-turboquant/.git
    or a mirror without a work tree (only its ggml/ folder is used):  make fork-check FORK=/path/to/repo.git
  optionally FORK_COMMIT=<commit> (default: feature/turboquant-kv-cache), FORK_VULKAN=1 for its Vulkan backend.
EOF
    exit 2
fi
fork=$1
build=${BUILD:-build}
known=ci/fork-known.txt
[ -x "$build/kvverify" ] || { echo "fork-check: no $build/kvverify (make build first)" >&2; exit 1; }
commit=${2:-}
if [ -z "$commit" ]; then
    commit=$(git --git-dir="$fork" rev-parse -q --verify feature/turboquant-kv-cache ||
             git --git-dir="$fork" rev-parse -q --verify origin/feature/turboquant-kv-cache ||
             git --git-dir="$fork" rev-parse HEAD) || { echo "fork-check: $fork is not a git directory" >&2; exit 2; }
fi
short=$(git --git-dir="$fork" rev-parse --short=9 "$commit") || { echo "fork-check: no commit $commit in $fork" >&2; exit 2; }
lib=.deps/fork/$short
vk=""
if [ "${FORK_VULKAN:-0}" = 1 ]; then
    vk=--vulkan
    lib=.deps/fork/$short-vulkan # the CPU libraries of that build too
fi
./ci/fork-build.sh "$fork" "$short" "$lib" $vk || exit 1
out=$build/fork-check/$short
mkdir -p "$out"

echo "fork-check: $short: what the format probe reads"
"$build/kvverify" probe -b "ggml-cpu:dir=$lib" | sed 's/^/    /'

# each run: a label (the first column of fork-known.txt), the backend, options ("+" for spaces)
runs="fork-cpu|ggml-cpu:dir=$lib|--gate fork-cpu|ggml-cpu:dir=$lib|--gate+-o+attn,ppl+-p+*turbo*+--set+rot=graph"
[ -n "$vk" ] && runs="$runs fork-vulkan|ggml-vulkan:dir=$lib:vkdev=0|--gate+-o+quant,dequant,wht"
# a covering set of attention cases on it (every turbo3 pair it has a kernel for, both rotation
# sites, decode and prefill; lavapipe compiles each flash-attention pipeline for minutes)
[ -n "$vk" ] && runs="$runs fork-vulkan|ggml-vulkan:dir=$lib:vkdev=0|--cases+ci/fork-cases/vulkan-attention.cases+-j+1+--timeout+1800"
status=0 n=0
: >"$out/fail"
for r in $runs; do
    label=${r%%|*}
    rest=${r#*|}
    b=${rest%%|*}
    args=$(echo "${rest#*|}" | tr "+" " ")
    n=$((n + 1))
    log="$out/run$n.txt"
    set -f # the pattern is for kvverify, not the shell
    # shellcheck disable=SC2086
    "$build/kvverify" run -b "$b" -v $args ${FORK_CHECK_ARGS:-} >"$log" 2>&1 || true
    set +f
    if ! grep -q "^[0-9]* checks:" "$log"; then
        echo "fork-check: $b $args did not run:" >&2
        tail -5 "$log" >&2
        status=1
        continue
    fi
    grep "checks:" "$log" | sed "s|^|fork-check: $label ($args): |"
    grep "^FAIL" "$log" | awk -v l="$label" '{print l, $3}' >>"$out/fail"
done
sort -u "$out/fail" -o "$out/fail"
grep -v '^#' "$known" | awk 'NF >= 2 {print $1, $2}' | sort -u >"$out/known"
# an entry is a case name or a shell pattern of them (ci/known_match.sh)
./ci/known_match.sh "$out/fail" "$out/known" >"$out/match"
unexpected=$(sed -n 's/^unexpected //p' "$out/match")
fixed=$(sed -n 's/^unused //p' "$out/match")
if [ -n "$unexpected" ]; then
    echo "fork-check: failures not in $known:" >&2
    echo "$unexpected" | while read -r l c; do
        grep -h -A1 " $c\$" "$out"/run*.txt | head -2 >&2 || echo "$l $c" >&2
    done
    status=1
fi
if [ -n "$fixed" ]; then
    echo "fork-check: known differences that passed this time (or were not run):"
    echo "$fixed" | sed 's/^/    /'
fi
echo "fork-check: $(wc -l <"$out/fail") failing cases, all explained: $([ $status = 0 ] && echo yes || echo no); logs in $out"
exit $status
