# Cordon: the two commands of the quick start are `make demo` and `make test`.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
               -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++

.PHONY: all deps configure build test fuzz demo bench deb clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Every tier: unit, simulation, netns, ASan/UBSan builds of unit+sim, TSan
# build of the threaded unit tests,
# the core purity check, fuzz smoke.
# ctest's closing line says how many passed and failed.
test: build
	cd $(BUILD) && ctest --output-on-failure --no-label-summary -j$(JOBS) --timeout 600

# The long fuzz campaign: each target for FUZZ_SECONDS (default 240), two at
# a time, on corpora kept in fuzz-corpus/ between runs (scripts/fuzz.sh).
# `make test` keeps its 10-second smoke run per target.
FUZZ_SECONDS ?= 240
FUZZ_JOBS    ?= 2
FUZZ_TARGETS := $(basename $(notdir $(wildcard tests/fuzz/*_fuzz.cpp)))

fuzz: configure
	cmake --build $(BUILD) -j$(JOBS) --target $(FUZZ_TARGETS)
	./scripts/fuzz.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

# KEEP=1 leaves the network and its web console running until Ctrl-C.
demo: build
	KEEP=$(KEEP) ./scripts/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

# The Debian package, built with dpkg-buildpackage from a copy of the tree
# and checked by lintian (scripts/build-deb.sh, docs/packaging.md). It lands
# in $(DEB_OUT)/; the last line printed is its path.
DEB_OUT ?= build-deb
DEB_BUILD_OPTIONS ?= parallel=$(JOBS)

deb: deps
	DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" ./scripts/build-deb.sh --out $(DEB_OUT)

clean:
	rm -rf $(BUILD) $(DEB_OUT)
