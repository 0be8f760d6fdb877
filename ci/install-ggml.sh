#!/bin/sh
# Fetch prebuilt llama.cpp libraries (libggml-base, the CPU variants and the
# Vulkan device library) from the npm registry, where node-llama-cpp ships
# them, into .deps/ggml/ (ignored by git).  The ggml adapter (kernels/ggml)
# loads them from .deps/ggml/cpu and .deps/ggml/vulkan by default.
#
# Needs npm and the registry (or its cache); nothing is built or run.
# Re-running with the same version is a no-op.  Override the version with
# KVV_GGML_NPM_VERSION, the folder with KVV_GGML_DEPS.
set -eu
cd "$(dirname "$0")/.."
version=${KVV_GGML_NPM_VERSION:-3.22.1}
dest=${KVV_GGML_DEPS:-.deps/ggml}
pkgs="@node-llama-cpp/linux-x64 @node-llama-cpp/linux-x64-vulkan"

installed() {
    for p in $pkgs; do
        f="$dest/node_modules/$p/package.json"
        [ -f "$f" ] && grep -q "\"version\": \"$version\"" "$f" || return 1
    done
}

if ! installed; then
    command -v npm >/dev/null || { echo "install-ggml: npm is needed (apt-get install npm)" >&2; exit 1; }
    mkdir -p "$dest"
    specs=""
    for p in $pkgs; do specs="$specs $p@$version"; done
    echo "install-ggml: npm install$specs into $dest"
    # shellcheck disable=SC2086
    npm install --prefix "$dest" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
        --loglevel=error $specs
fi
ln -sfn node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 "$dest/cpu"
ln -sfn node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan "$dest/vulkan"

# (the ggml version and commit inside are what ggml_version()/ggml_commit()
# report; the adapter prints them in its description)
for d in cpu vulkan; do
    echo "install-ggml: $dest/$d -> $(readlink "$dest/$d") (node-llama-cpp $version)"
    for f in "$dest/$d"/libggml*.so; do echo "    $(basename "$f")"; done
done
