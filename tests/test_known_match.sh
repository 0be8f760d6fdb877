#!/bin/sh
# ci/known_match.sh (ggml-check's and fork-check's list of known
# differences): a pattern explains the failures of its class, only for its
# label; a failure nothing explains and an entry nothing matched are named.
set -eu
cd "$(dirname "$0")/.."
f=$(mktemp)
k=$(mktemp)
trap 'rm -f "$f" "$k"' EXIT
printf '%s\n' "ggml-cpu quant/iq4_nl/d96/rows1/dist=zero/seed=1" "ggml-cpu attn/d32/f16-f16/nq1/seed=2" \
    "ggml-vulkan quant/iq4_nl/d64/rows1/dist=zero/seed=3" >"$f"
printf '%s\n' "ggml-cpu quant/iq4_nl/*/dist=zero/*" "ggml-cpu quant/q8_0/d128/rows32/dist=denorm/seed=206" >"$k"
got=$(./ci/known_match.sh "$f" "$k")
want="unexpected ggml-cpu attn/d32/f16-f16/nq1/seed=2
unexpected ggml-vulkan quant/iq4_nl/d64/rows1/dist=zero/seed=3
unused ggml-cpu quant/q8_0/d128/rows32/dist=denorm/seed=206"
if [ "$got" != "$want" ]; then
    printf 'known_match.sh gave:\n%s\nexpected:\n%s\n' "$got" "$want" >&2
    exit 1
fi
echo "known_match: patterns, labels, unexplained failures and unused entries as expected"
