#!/bin/sh
# kvverify along a TurboQuant fork's history: every first-parent commit that
# changed what its CPU build is made of (ggml's headers, ggml.c, the
# quantizers, ggml-cpu; not the GPU backends) between FIRST and LAST is built (ci/fork-build.sh, one shared
# tree, libraries kept per commit under .deps/fork/<commit>) and the gate's
# TurboQuant and WHT cases are run on its CPU device.  Prints a line per
# commit: the format versions its probe found, pass/fail/skip, the first
# failing rule and case, and against the previous commit the cases that
# started failing (a regression) and those that started passing (a fix).
#
#   ci/fork-history.sh FORK_GIT_DIR [FIRST [LAST]]
#
# FIRST defaults to the fork's first TurboQuant commit 0b3744874, LAST to
# feature/turboquant-kv-cache (else HEAD).  Reports and logs go to
# .deps/fork-history/<commit>.jsonl and .txt; a commit that does not build is
# a line that says so.  KVV_HISTORY_ARGS adds run options (e.g. "-o quant");
# KVV_HISTORY_CASES replaces the cases ('*turbo*,wht/*'; '*' for the whole
# gate, e.g. along upstream ggml's history inside the fork's);
# KVV_HISTORY_COMMITS="C1 C2 ..." replaces the commits (FIRST and LAST are
# then ignored): a sample of a long history, in the order given.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: ci/fork-history.sh FORK_GIT_DIR [FIRST [LAST]]" >&2; exit 2; }
fork=$1
first=${2:-0b3744874}
last=${3:-}
[ -n "$last" ] || last=$(git --git-dir="$fork" rev-parse -q --verify feature/turboquant-kv-cache || git --git-dir="$fork" rev-parse HEAD)
build=${BUILD:-build}
out=.deps/fork-history
mkdir -p "$out"
export KVV_FORK_BUILD_WORK=${KVV_FORK_BUILD_WORK:-.deps/fork-work/cpu}

if [ -n "${KVV_HISTORY_COMMITS:-}" ]; then
    commits=""
    for c in $KVV_HISTORY_COMMITS; do
        commits="$commits $(git --git-dir="$fork" rev-parse --short=9 "$c^{commit}")" ||
            { echo "fork-history: $c is not a commit of $fork" >&2; exit 2; }
    done
else
    commits=$(git --git-dir="$fork" log --reverse --first-parent --format=%h --abbrev=9 "$first^..$last" -- \
        ggml/include ggml/src/ggml.c ggml/src/ggml-quants.c ggml/src/ggml-turbo-quant.c ggml/src/ggml-common.h ggml/src/ggml-cpu)
fi
prev=""
printf '%-10s %-10s %-44s %6s %5s %5s  %s\n' commit date "TurboQuant types (probe)" pass fail skip "first failure / against the previous commit"
for c in $commits; do
    date=$(git --git-dir="$fork" log -1 --format=%ad --date=short "$c")
    lib=.deps/fork/$c
    if ! ./ci/fork-build.sh "$fork" "$c" "$lib" >"$out/$c.build.txt" 2>&1; then
        printf '%-10s %-10s %s\n' "$c" "$date" "does not build: $(grep -m1 'does not build' "$out/$c.build.txt" | sed 's/.*does not build: //')"
        continue
    fi
    types=$("$build/kvverify" probe -b "ggml-cpu:dir=$lib" 2>&1 | head -1 | sed -n 's/.*TurboQuant types: //p' |
            sed 's/ (\([0-9]*\))//g; s/no known format/?/g; s/its to_float crashed/crash/g')
    set -f
    # shellcheck disable=SC2086
    "$build/kvverify" run --gate -b "ggml-cpu:dir=$lib" -p "${KVV_HISTORY_CASES:-*turbo*,wht/*}" --json "$out/$c.jsonl" ${KVV_HISTORY_ARGS:-} \
        >"$out/$c.txt" 2>&1 || true
    set +f
    python3 - "$out/$c.jsonl" "${prev:+$out/$prev.jsonl}" "$c" "$date" "$types" <<'EOF'
import json, sys
def load(p):
    r = {}
    try:
        for l in open(p):
            o = json.loads(l)
            if o.get('record') == 'case':
                r[o['name']] = o
    except OSError:
        pass
    return r
cur = load(sys.argv[1]); old = load(sys.argv[2]) if sys.argv[2] else {}
n = {s: sum(1 for o in cur.values() if o['status'] == s) for s in ('pass', 'fail', 'skip')}
fails = [o for o in cur.values() if o['status'] == 'fail']
first = '%s %s' % (fails[0]['rule'], fails[0]['name']) if fails else '-'
new_fail = sorted(k for k, o in cur.items() if o['status'] == 'fail' and k in old and old[k]['status'] == 'pass')
new_pass = sorted(k for k, o in cur.items() if o['status'] == 'pass' and k in old and old[k]['status'] == 'fail')
note = first
if old:
    note += '; vs previous: %d newly failing%s, %d newly passing%s' % (
        len(new_fail), ' (e.g. %s %s)' % (cur[new_fail[0]]['rule'], new_fail[0]) if new_fail else '',
        len(new_pass), ' (e.g. %s)' % new_pass[0] if new_pass else '')
print('%-10s %-10s %-44s %6d %5d %5d  %s' % (sys.argv[3], sys.argv[4], sys.argv[5][:44], n['pass'], n['fail'], n['skip'], note))
EOF
    prev=$c
done
