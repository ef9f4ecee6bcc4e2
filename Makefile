# The two entry points of the README. Everything else is plain CMake.
#   make run   set up, build, simulate scenarios/default.yaml -> results/default.h5
#   make test  set up, build, run the whole test suite through ctest
BUILD_DIR ?= build/release
JOBS ?= $(shell nproc)
SCENARIO ?= scenarios/default.yaml

.PHONY: all setup configure build run test bench clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/sim/aifsim run $(SCENARIO) -o results/default.h5

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --no-tests=error

bench: build
	bench/run.sh $(BUILD_DIR)
	bench/sweep.sh $(BUILD_DIR)

clean:
	rm -rf build results
