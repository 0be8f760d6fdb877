#!/bin/sh
# `make ggml-check`: kvverify's gate against a real llama.cpp build that
# nobody here wrote, the prebuilt libraries node-llama-cpp publishes on npm
# (ci/install-ggml.sh).  Runs the gate on ggml's CPU device, and the gate's
# quantize/dequantize cases on its Vulkan device when one starts (lavapipe
# counts: vkdev=0; its attention is left out because lavapipe compiles each
# flash-attention pipeline for minutes), then compares the failing cases
# with ci/ggml-known.txt, the upstream differences already understood (each
# with its reason; an entry is a case name or a shell pattern of them).  Exit status 1 only for a failure not in that list, or
# when ggml's CPU device does not load.  Not part of `make verify`: it needs
# the npm registry once, and takes minutes.
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
known=ci/ggml-known.txt
out=$build/ggml-check
mkdir -p "$out"
./ci/install-ggml.sh >/dev/null
echo "ggml-check: libraries in .deps/ggml (ci/install-ggml.sh)"

# each run: backend|options ("+" for spaces)
runs="ggml-cpu|"
if "$build/kvverify" run -b ggml-vulkan:vkdev=0 -j 1 -p "quant/f16/d128/rows32/dist=gauss/seed=104" >/dev/null 2>&1; then
    runs="$runs ggml-vulkan:vkdev=0|-o+quant,dequant"
else
    echo "ggml-check: ggml's Vulkan device does not start here; checking the CPU device only"
fi

status=0
for r in $runs; do
    b=${r%%|*}
    args=$(echo "${r#*|}" | tr "+" " ")
    log="$out/$(echo "$b" | tr ':=' '__').txt"
    # shellcheck disable=SC2086
    "$build/kvverify" run -b "$b" -v $args ${GGML_CHECK_ARGS:-} >"$log" 2>&1 || true
    if ! grep -q "^[0-9]* checks:" "$log"; then
        echo "ggml-check: $b did not run:" >&2
        tail -5 "$log" >&2
        status=1
        continue
    fi
    grep "checks:" "$log" | sed "s/^/ggml-check: $b: /"
    grep "^FAIL" "$log" | awk '{print $2, $3}' | sort >"$log.fail"
    grep -v '^#' "$known" | awk -v b="$b" 'NF >= 2 && $1 == b {print $1, $2}' >"$log.known"
    # an entry is a case name or a shell pattern of them (ci/known_match.sh)
    ./ci/known_match.sh "$log.fail" "$log.known" >"$log.match"
    unexpected=$(sed -n 's/^unexpected //p' "$log.match")
    fixed=$(sed -n 's/^unused //p' "$log.match")
    if [ -n "$unexpected" ]; then
        echo "ggml-check: $b: failures not in $known:" >&2
        echo "$unexpected" | while read -r bb c; do grep -A1 "^FAIL $bb $c\$" "$log" >&2 || echo "$bb $c" >&2; done
        status=1
    fi
    if [ -n "$fixed" ]; then
        echo "ggml-check: $b: known differences that passed this time:"
        echo "$fixed" | sed 's/^/    /'
    fi
done
echo "ggml-check: logs in $out"
exit $status
