# Thin wrapper so that a fresh clone needs two commands: `make verify` and
# `make test`.  Set SANITIZE=1 for an ASan/UBSan build (in build-asan/).
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DKVV_SANITIZE=ON
else
BUILD ?= build
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
VERIFY_ARGS ?=

.PHONY: all deps configure build verify test bench mutants clean ggml-check fork-check

all: build

# The Debian packages of ci/deps.txt: `make deps` checks (and installs) every
# time; the build asks once, then again only when the list or the script
# changes (the stamp in the build folder).
deps:
	@./ci/install-deps.sh

$(BUILD)/.deps-installed: ci/deps.txt ci/install-deps.sh
	@./ci/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/CMakeCache.txt: | $(BUILD)/.deps-installed
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: $(BUILD)/.deps-installed $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The default gate: every backend this machine has, the case list of
# `kvverify run --gate`; exit status 0 only when every case passes.
verify: build
	$(BUILD)/kvverify run --gate $(VERIFY_ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/kvverify bench

# Every known bug re-created as a fault in the CPU kernels (ci/mutants.txt)
# and caught by the gate; builds in build-mutants/.
mutants: $(BUILD)/.deps-installed
	./ci/mutants.sh

# A real llama.cpp (node-llama-cpp's prebuilt libraries from npm, installed
# into .deps/ggml) through the ggml adapter, against ci/ggml-known.txt.
# Not part of verify: it needs the npm registry once and takes minutes.
ggml-check: build
	BUILD=$(BUILD) ./ci/ggml-check.sh

# A TurboQuant fork (FORK=its git directory; FORK_COMMIT, FORK_VULKAN=1
# optional) built with ci/fork-build.sh and checked against
# ci/fork-known.txt.  Not part of verify: CI has no fork to fetch.
fork-check: build
	BUILD=$(BUILD) ./ci/fork-check.sh "$(FORK)" $(FORK_COMMIT)

clean:
	rm -rf build build-asan build-mutants build-release
