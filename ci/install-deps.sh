#!/bin/sh
# Install the Debian packages of ci/deps.txt (or of the lists given as
# arguments, e.g. ci/fork-deps.txt) that are missing.  Needs root (or sudo)
# only when something is missing; prints what it installs.
set -eu
here=$(dirname "$0")
lists=${*:-$here/deps.txt}
missing=""
# shellcheck disable=SC2086
for p in $(cat $lists | grep -v '^#'); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "kvverify: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "kvverify: not root and no sudo: install these packages first:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
