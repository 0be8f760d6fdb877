#!/bin/sh
# Real bugs from a TurboQuant fork's history (ci/fork-bugs.tsv): for each,
# its parent (the bug present) and its fix are built (ci/fork-build.sh;
# libraries cached per commit under .deps/fork/), kvverify runs the bug's
# cases on both, and a table says whether the bug was caught on the parent
# (the first failing case and its rule, the seconds to that first failure)
# and is gone on the fix (no failure of the bug's rule in those cases; any
# other failure of the fix is listed as what it still fails), with the
# format versions the probe found on each side.
#
#   ci/fork-bugs.sh FORK_GIT_DIR [BUG_ID ...]
#
# A crash or a hang of a commit's library is a verdict (kvverify isolates
# each case), never the end of the run.  Exit status 0 only when every
# listed bug is caught on its parent and absent on its fix; 1 otherwise;
# 2 on bad arguments.  Logs: .deps/fork-bugs/<id>.<parent|fix>.txt.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: ci/fork-bugs.sh FORK_GIT_DIR [BUG_ID ...]" >&2; exit 2; }
fork=$1
shift
only=" $* "
build=${BUILD:-build}
table=ci/fork-bugs.tsv
out=.deps/fork-bugs
mkdir -p "$out"
[ -x "$build/kvverify" ] || { echo "fork-bugs: no $build/kvverify (make build first)" >&2; exit 2; }

# build COMMIT DEVICE -> prints the library folder, or nothing
build_commit() {
    c=$(git --git-dir="$fork" rev-parse --short=9 "$1") || return 1
    if [ "$2" = vulkan ]; then
        lib=.deps/fork/$c-vulkan
        KVV_FORK_BUILD_WORK=.deps/fork-work/vulkan ./ci/fork-build.sh "$fork" "$c" "$lib" --vulkan >"$out/build-$c-vulkan.txt" 2>&1 ||
            return 1
    else
        lib=.deps/fork/$c
        KVV_FORK_BUILD_WORK=.deps/fork-work/cpu ./ci/fork-build.sh "$fork" "$c" "$lib" >"$out/build-$c.txt" 2>&1 || return 1
    fi
    echo "$lib"
}

# run LIB DEVICE CASES OPTS ARGS LOG [FIRST]: the bug's cases (the gate's,
# in the versions the library stores), a JSON report next to the log; with
# FIRST, a second run stops at the first failure, and its wall time
# (seconds from the start of kvverify to that verdict) goes to LOG.first
run_cases() {
    if [ "$2" = vulkan ]; then b="ggml-vulkan:dir=$1:vkdev=0"; else b="ggml-cpu:dir=$1"; fi
    [ "$4" = - ] || b="$b$4"
    a=$5
    [ "$a" = - ] && a=""
    set -f
    # shellcheck disable=SC2086
    "$build/kvverify" run --gate -b "$b" -p "$3" $a -v --timeout "${FORK_BUGS_TIMEOUT:-300}" --json "$6.jsonl" >"$6" 2>&1 ||
        true
    if [ -n "${7:-}" ]; then
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$build/kvverify" run --gate -b "$b" -p "$3" $a --fail-fast --timeout "${FORK_BUGS_TIMEOUT:-300}" >/dev/null 2>&1 ||
            true
        t1=$(date +%s.%N)
        echo "$t0 $t1" | awk '{printf "%.1f\n", $2 - $1}' >"$6.first"
    fi
    set +f
}

# judge LOG RULE SIDE [PARENT-LOG REMAINS] -> a verdict line (python reads
# the JSON reports)
judge() {
    python3 - "$1" "$2" "$3" "${4:-}" "${5:--}" <<'EOF'
import fnmatch, json, sys, os
log, rule, side, other, remains = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
remain_pats = [] if remains == '-' else remains.split(',')
def load(p):
    r = []
    try:
        for l in open(p):
            o = json.loads(l)
            if o.get('record') == 'case':
                r.append(o)
    except OSError:
        pass
    return r
cases = load(log + '.jsonl')
if not cases:
    print('did not run (see %s)' % log); sys.exit(0)
rules = rule.split('|')
hit = [o for o in cases if o['status'] == 'fail' and o['rule'] in rules]
if side == 'parent':
    if not hit:
        print('NOT caught (%d cases: %d pass, %d fail, %d skip)' % (len(cases), sum(o['status'] == 'pass' for o in cases),
              sum(o['status'] == 'fail' for o in cases), sum(o['status'] == 'skip' for o in cases)))
        sys.exit(0)
    try:
        first = open(log + '.first').read().strip() + ' s to the first failure'
    except OSError:
        first = ''
    print('caught: %s %s (%d of %d cases fail it%s)' % (hit[0]['rule'], hit[0]['name'], len(hit), len(cases),
          '; ' + first if first else ''))
else:
    prev = {o['name']: o for o in load(other + '.jsonl')}
    left = [o for o in hit if any(fnmatch.fnmatchcase(o['name'], p) for p in remain_pats)]
    hit = [o for o in hit if o not in left]
    new = [o for o in cases if o['status'] == 'fail' and prev.get(o['name'], {}).get('status') != 'fail']
    still = [o for o in cases if o['status'] == 'fail' and o not in new and o not in left]
    msg = 'clean' if not hit else 'NOT clean: %s %s (%d cases)' % (hit[0]['rule'], hit[0]['name'], len(hit))
    if left:
        msg += '; the fix leaves part of it: %s %s (%d cases)' % (left[0]['rule'], left[0]['name'], len(left))
    msg += ' (%d cases: %d pass, %d fail, %d skip)' % (len(cases), sum(o['status'] == 'pass' for o in cases),
            sum(o['status'] == 'fail' for o in cases), sum(o['status'] == 'skip' for o in cases))
    if new:
        msg += '; newly fails: %s %s' % (new[0]['rule'], new[0]['name']) + (' and %d more' % (len(new) - 1) if len(new) > 1 else '')
    if still and not hit:
        msg += '; still fails, other rules: %s %s' % (still[0]['rule'], still[0]['name'])
    print(msg)
EOF
}

status=0
rm -f "$out/.status"
printf '%s\n' "id | fix | device | bug | parent verdict | fix verdict | versions parent -> fix"
tab=$(printf '\t')
grep -v '^#' "$table" | while IFS="$tab" read -r id fix parent device what rule cases opts args remains; do
    [ -n "$id" ] || continue
    case "$only" in "  ") ;; *" $id "*) ;; *) continue ;; esac
    p=$(git --git-dir="$fork" rev-parse --short=9 "$parent" 2>/dev/null) || p=$parent
    pl=$(build_commit "$parent" "$device") || pl=""
    fl=$(build_commit "$fix" "$device") || fl=""
    if [ -z "$pl" ] || [ -z "$fl" ]; then
        echo "$id | $fix | $device | $what | build failed: $([ -z "$pl" ] && echo "parent $p") $([ -z "$fl" ] && echo "fix $fix") (see $out/build-*.txt) | - | -"
        echo fail >>"$out/.status"
        continue
    fi
    run_cases "$pl" "$device" "$cases" "${opts:--}" "${args:--}" "$out/$id.parent.txt" first
    run_cases "$fl" "$device" "$cases" "${opts:--}" "${args:--}" "$out/$id.fix.txt"
    pv=$(judge "$out/$id.parent.txt" "$rule" parent)
    fv=$(judge "$out/$id.fix.txt" "$rule" fix "$out/$id.parent.txt" "${remains:--}")
    vp=$("$build/kvverify" probe -b "ggml-cpu:dir=$pl" 2>&1 | head -1 | sed -n 's/.*TurboQuant types: //p' | sed 's/ (\([0-9]*\))//g')
    vf=$("$build/kvverify" probe -b "ggml-cpu:dir=$fl" 2>&1 | head -1 | sed -n 's/.*TurboQuant types: //p' | sed 's/ (\([0-9]*\))//g')
    echo "$id | $fix | $device | $what | $pv | $fv | $vp -> $vf"
    case "$pv" in caught*) ;; *) echo fail >>"$out/.status" ;; esac
    case "$fv" in clean*) ;; *) echo fail >>"$out/.status" ;; esac
done
if [ -s "$out/.status" ]; then status=1; fi
rm -f "$out/.status"
exit $status
