#!/bin/sh
# The module map of README.md kept true: every `#include "dir/..."` in a
# module's sources names its own folder or one its "may include" column
# lists, and the table has no cycle.  (The build enforces the same through
# include paths; this check also covers the headers no build compiles on
# this machine and says which line breaks it.)  Exit 1 naming each breach.
set -eu
cd "$(dirname "$0")/.."
readme=${1:-README.md}
table=$(mktemp)
trap 'rm -f "$table"' EXIT
# rows: "| floor | `folder` | target | what | may include |" -> "folder<TAB>allowed,..."
awk -F'|' '/^## Module map/ {on=1; next} /^## / {on=0}
    on && $3 ~ /`/ {
        f=$3; gsub(/[ `]/, "", f); a=$6; gsub(/ /, "", a); print f "\t" a
    }' "$readme" >"$table"
[ -s "$table" ] || { echo "layers: no module map table in $readme" >&2; exit 1; }

status=0
# the folder of an include path: the longest module folder it starts with
# ("kvv/x.h" is include/kvv)
while IFS="$(printf '\t')" read -r mod allowed; do
    [ -d "$mod" ] || { echo "layers: $mod (README module map) is no folder" >&2; status=1; continue; }
    files=$(find "$mod" \( -name '*.c' -o -name '*.h' \) ! -path 'fuzz/targets/*' ! -path 'kernels/vulkan/gen/*')
    for f in $files; do
        grep -n '^#include "[^"]*/' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1 \2/' |
        while read -r line inc; do
            case "$inc" in kvv/*) target=include/kvv ;; *)
                target=$(cut -f1 "$table" | while read -r m; do
                    case "$inc" in "$m"/*) echo "${#m} $m" ;; esac
                done | sort -rn | head -1 | cut -d' ' -f2)
                [ -n "$target" ] || target=$(echo "$inc" | cut -d/ -f1) ;;
            esac
            [ "$target" = "$mod" ] && continue
            case ",$allowed," in *",$target,"*) continue ;; esac
            echo "layers: $f:$line includes $inc: $mod may not include $target (README module map)"
        done
    done
done <"$table" | tee /dev/stderr | grep -q . && status=1

# no cycle: repeatedly drop the modules whose listed folders are all dropped
awk -F'\t' '{deps[$1]=$2; n++} END {
    left=n
    while (left > 0) {
        progress=0
        for (m in deps) {
            if (done[m]) continue
            k=split(deps[m], d, ","); ok=1
            for (i=1; i<=k; i++) if (d[i] != "" && !done[d[i]] && d[i] != m) ok=0
            if (ok) { done[m]=1; left--; progress=1 }
        }
        if (!progress) {
            for (m in deps) if (!done[m]) printf "layers: %s is on a cycle (or names a folder not in the table)\n", m
            exit 1
        }
    }
}' "$table" >&2 || status=1
[ $status = 0 ] && echo "layers: $(wc -l <"$table") modules, every include on a floor below"
exit $status
