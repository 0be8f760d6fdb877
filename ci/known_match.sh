#!/bin/sh
# known_match.sh FAILS KNOWN: which failures a list of known differences
# explains.  Both files hold "LABEL CASE" lines (LABEL: a backend or run
# label; in KNOWN, CASE may be a shell pattern of case names, one class of
# input with one reason, since the covering gate's seeds are generated).
# Prints "unexpected LABEL CASE" for each failure no entry matches and
# "unused LABEL ENTRY" for each entry that matched no failure.
set -eu
fails=$1
known=$2
used=$(mktemp)
trap 'rm -f "$used"' EXIT
while read -r label c; do
    hit=""
    while read -r kl pat; do
        [ "$kl" = "$label" ] || continue
        # shellcheck disable=SC2254
        case "$c" in $pat) hit="$kl $pat"; break ;; esac
    done <"$known"
    if [ -n "$hit" ]; then echo "$hit" >>"$used"; else echo "unexpected $label $c"; fi
done <"$fails"
sort -u "$used" | comm -13 - "$(sort -u "$known" >"$used.all"; echo "$used.all")" | sed 's/^/unused /'
rm -f "$used.all"
