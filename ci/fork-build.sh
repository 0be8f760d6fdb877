#!/bin/sh
# Build one commit of a llama.cpp fork's ggml as shared libraries, for the
# ggml adapter to load (-b ggml-cpu:dir=OUT, -b ggml-vulkan:dir=OUT).
#
#   ci/fork-build.sh FORK_GIT_DIR COMMIT OUT [--vulkan] [--portable]
#
# FORK_GIT_DIR is a git directory (a bare mirror as the fetch tool gives, or
# a clone's .git); only COMMIT:ggml is taken from it, with `git archive`, so
# a mirror without a work tree, or one that lacks blobs outside ggml/, works.
# OUT receives libggml-base.so, libggml-cpu.so (and libggml-vulkan.so with
# --vulkan) and a BUILD-INFO file; the build tree lives in OUT/.build (or
# KVV_FORK_BUILD_WORK, below).
# --portable builds for AVX2/FMA/F16C instead of -march=native (a build to
# carry to another machine).
#
# ccache (Debian package ccache) is used when present, with the source path
# made relative, so that the next commit recompiles only what changed.  A
# commit already built into OUT with the same options is not rebuilt.  The
# build is limited to KVV_FORK_BUILD_TIMEOUT seconds (default 3600; 0 = no
# limit) so that a commit that hangs its build is a message, not a hang.
# Debian 12's Vulkan headers (1.3.239) are older than a 2026 ggml-vulkan
# needs (VK_EXT_layer_settings): with --vulkan, VULKAN_HEADERS=DIR names a
# folder holding newer ones (DIR/vulkan/vulkan.hpp; e.g. the include/ of
# github.com/KhronosGroup/Vulkan-Headers); the default is
# .deps/vulkan-headers/include when it exists, else the system's, with
# ci/fork-vk-compat/ in front of them to declare what they lack.
# The whole log is OUT/build.log; KVV_FORK_BUILD_VERBOSE=1 also prints it
# (for a caller that keeps the output per commit while OUT is reused, as
# kvverify bisect's steps do).  Exit status: 0 built, 1 the commit does not
# build (the message names the step and the last lines of the log), 2 bad
# arguments.
set -eu

usage() {
    echo "usage: ci/fork-build.sh FORK_GIT_DIR COMMIT OUT [--vulkan] [--portable]" >&2
    exit 2
}
[ $# -ge 3 ] || usage
git_dir=$1 commit=$2 out=$3
shift 3
vulkan=0 portable=0
for a in "$@"; do
    case $a in
    --vulkan) vulkan=1 ;;
    --portable) portable=1 ;;
    *) usage ;;
    esac
done
[ -d "$git_dir" ] || { echo "fork-build: $git_dir is not a folder" >&2; exit 2; }
# a work tree (a clone, or kvverify bisect's temporary one) stands for its git directory
if ! git --git-dir="$git_dir" rev-parse --git-dir >/dev/null 2>&1; then
    git_dir=$(git -C "$git_dir" rev-parse --absolute-git-dir 2>/dev/null) ||
        { echo "fork-build: $1 is neither a git directory nor a work tree" >&2; exit 2; }
fi
full=$(git --git-dir="$git_dir" rev-parse --verify -q "$commit^{commit}") ||
    { echo "fork-build: $commit is not a commit of $git_dir" >&2; exit 2; }
git --git-dir="$git_dir" cat-file -e "$full:ggml" 2>/dev/null ||
    { echo "fork-build: commit $commit has no ggml/ folder" >&2; exit 1; }

# the packages of ci/fork-deps.txt (installed when missing and root or sudo is at hand)
"$(dirname "$0")/install-deps.sh" "$(dirname "$0")/fork-deps.txt" >&2 ||
    echo "fork-build: could not install ci/fork-deps.txt; trying with what is here" >&2
for tool in cmake ninja; do
    command -v $tool >/dev/null ||
        { echo "fork-build: $tool is needed (apt-get install cmake ninja-build ccache)" >&2; exit 2; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
short=$(echo "$full" | cut -c1-9)
want="commit $full vulkan=$vulkan portable=$portable"
if [ -f "$out/BUILD-INFO" ] && [ "$(head -n1 "$out/BUILD-INFO")" = "$want" ] && [ -f "$out/libggml-base.so" ]; then
    echo "fork-build: $short already built in $out"
    exit 0
fi
rm -f "$out/BUILD-INFO" "$out"/libggml*.so*

# The source always lands at the same path, so ccache sees the same files
# from one commit to the next (and CCACHE_BASEDIR makes paths relative).
# KVV_FORK_BUILD_WORK=DIR shares one source and build tree between the OUT
# folders of many commits (one build at a time): the tree is moved from
# commit to commit with a private git index, which rewrites only the files
# that differ, so Ninja rebuilds only what they touch (the Vulkan shaders
# are regenerated only when theirs changed).
work=${KVV_FORK_BUILD_WORK:-$out/.build}
mkdir -p "$work"
work=$(cd "$work" && pwd)
# one build at a time in a tree: a second waits for the first
if command -v flock >/dev/null; then
    exec 9>"$work/.lock"
    flock -n 9 || { echo "fork-build: $work is in use by another build; waiting" >&2; flock 9; }
fi
src=$work/src build=$work/build log=$out/build.log
mkdir -p "$build"
: >"$log"
show_log() {
    [ "${KVV_FORK_BUILD_VERBOSE:-0}" = 1 ] || return 0
    echo "fork-build: the build log ($log):"
    sed 's/^/    /' "$log"
}
fail() {
    show_log
    echo "fork-build: $short does not build: $1 (log: $log); its last lines:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    exit 1
}
# COMMIT:ggml into the tree; files that did not change keep their times
fresh_tree() { rm -rf "$src" "$work/index"; mkdir -p "$src/ggml"; }
# (the refresh first: files whose times changed but not their contents, a
# tree restored from a copy, would else read as edited and stop the move)
read_tree() {
    GIT_INDEX_FILE=$work/index git --git-dir="$git_dir" --work-tree="$src/ggml" update-index -q --refresh >/dev/null 2>&1
    # (sparse checkout off: a repository checked out sparse, as kvverify
    # bisect's clone is, would else write none of ggml/ here)
    GIT_INDEX_FILE=$work/index git -c core.sparseCheckout=false --git-dir="$git_dir" --work-tree="$src/ggml" \
        read-tree --reset -u "$full:ggml" 2>>"$log"
}
[ -f "$work/index" ] && [ -f "$src/ggml/CMakeLists.txt" ] || fresh_tree
# a tree left half-moved (a build killed mid-way, files edited by hand) is
# taken again from scratch: a full rebuild, never a mix of two commits
if ! read_tree || [ ! -f "$src/ggml/CMakeLists.txt" ]; then
    echo "fork-build: the shared tree $src did not move cleanly to $short; taking it from scratch" >&2
    fresh_tree
    read_tree || fail "reading ggml/ of the commit failed (blobs missing from the repository?)"
fi
# standalone ggml configures ggml.pc.in, which the fork's tree may lack
[ -f "$src/ggml/ggml.pc.in" ] || : >"$src/ggml/ggml.pc.in"
# The fork's commits adda3bc84 .. e3ce079be put `extern` into GGML_API, which
# GCC rejects inside extern "C" blocks; its own fix (71c7a4ced, which drops
# it) is applied to them, and BUILD-INFO says so.
compat=""
if grep -q 'define GGML_API __attribute__ ((visibility ("default"))) extern' "$src/ggml/include/ggml.h"; then
    sed -i 's/define GGML_API __attribute__ ((visibility ("default"))) extern$/define GGML_API __attribute__ ((visibility ("default")))/' \
        "$src/ggml/include/ggml.h"
    compat="applied the fork's 71c7a4ced (no extern in GGML_API) for GCC"
fi

# ggml's CMake asks git for the commit it reports (ggml_commit()); the tree
# sits inside whatever repository holds OUT, so a stand-in answers for the
# fork's commit during the configure
shim=$work/git-shim
mkdir -p "$shim"
printf '#!/bin/sh\n# git for the configure of %s: its commit, a clean tree\ncase "$*" in *rev-parse*) echo %s ;; esac\nexit 0\n' \
    "$short" "$short" >"$shim/git"
chmod +x "$shim/git"

launcher=""
if command -v ccache >/dev/null; then
    launcher="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
    export CCACHE_BASEDIR="$work" CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros,include_file_mtime
else
    echo "fork-build: ccache not found: every commit builds from scratch (apt-get install ccache)" >&2
fi
cpu_flags="-DGGML_NATIVE=ON"
[ $portable -eq 1 ] && cpu_flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
targets="ggml-base ggml-cpu"
vk_flags="-DGGML_VULKAN=OFF"
if [ $vulkan -eq 1 ]; then
    targets="$targets ggml-vulkan"
    vk_flags="-DGGML_VULKAN=ON"
    for need in /usr/bin/glslc /usr/include/vulkan/vulkan.h /usr/include/spirv/unified1/spirv.hpp; do
        [ -e $need ] || { echo "fork-build: --vulkan needs $need (apt-get install glslc libvulkan-dev spirv-headers)" >&2; exit 2; }
    done
    here=$(cd "$(dirname "$0")/.." && pwd)
    vkh=${VULKAN_HEADERS:-$here/.deps/vulkan-headers/include}
    if [ -f "$vkh/vulkan/vulkan.hpp" ]; then
        vkh=$(cd "$vkh" && pwd)
        echo "fork-build: Vulkan headers from $vkh"
    else
        vkh=/usr/include
    fi
    vk_flags="$vk_flags -DVulkan_INCLUDE_DIR=$vkh" # also resets an earlier configure's choice
    grep -q VK_EXT_layer_settings "$vkh/vulkan/vulkan_core.h" ||
        vk_flags="$vk_flags -DCMAKE_CXX_FLAGS=-I$here/ci/fork-vk-compat"
fi
limit=${KVV_FORK_BUILD_TIMEOUT:-3600}
run_limited() {
    if [ "$limit" -gt 0 ]; then timeout --kill-after=30 "$limit" "$@"; else "$@"; fi
}

echo "fork-build: $short -> $out (targets: $targets)"
start=$(date +%s)
# shellcheck disable=SC2086
run_limited cmake -S "$src/ggml" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF -DGGML_BACKEND_DL=OFF -DGGML_OPENMP=OFF -DGIT_EXE="$shim/git" \
    $cpu_flags $vk_flags $launcher >>"$log" 2>&1 || fail "cmake configure failed"
# shellcheck disable=SC2086
run_limited cmake --build "$build" -j "${KVV_FORK_BUILD_JOBS:-$(nproc)}" --target $targets >>"$log" 2>&1 || {
    rc=$?
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && fail "the build ran past KVV_FORK_BUILD_TIMEOUT=${limit}s"
    fail "the compile failed"
}
for lib in $targets; do
    f=$(find "$build" -name "lib$lib.so" -print -quit)
    [ -n "$f" ] || fail "lib$lib.so was not produced"
    # the file itself, and its versioned names (the sonames the device
    # libraries ask for) as links to it
    cp -L "$f" "$out/lib$lib.so"
    for v in "$(dirname "$f")/lib$lib.so".*; do
        [ -e "$v" ] && ln -sf "lib$lib.so" "$out/$(basename "$v")"
    done
done
secs=$(($(date +%s) - start))
show_log
{
    echo "$want"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${secs}s"
    git --git-dir="$git_dir" log -1 --format='%h %ad %s' --date=short "$full"
    [ -n "$compat" ] && echo "$compat"
    command -v ccache >/dev/null && ccache -s 2>/dev/null | grep -i 'hits\|misses' | head -3
} >"$out/BUILD-INFO"
echo "fork-build: $short built in ${secs}s; libraries in $out:"
for f in "$out"/libggml*.so; do echo "    $(basename "$f")"; done
use="-b ggml-cpu:dir=$out"
[ $vulkan -eq 1 ] && use="$use or -b ggml-vulkan:dir=$out:vkdev=0"
echo "fork-build: use $use"
