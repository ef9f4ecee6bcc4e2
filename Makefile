# The two entry points of the README. Everything else is plain CMake.
#   make run   set up, build, simulate scenarios/default.yaml -> results/default.h5
#   make test  set up, build, run the whole test suite through ctest, then test-sanitize-parsers (what CI runs)
#   make test-sanitize  the suite under AddressSanitizer + UndefinedBehaviorSanitizer (build/sanitize; about an hour)
#   make test-sanitize-parsers  the parsers alone under the sanitizers (3 minutes on 2 cores)
#   make fuzz  fuzz every parser for FUZZ_SECONDS each with libFuzzer (clang, build/fuzz; docs/reliability.md)
BUILD_DIR ?= build/release
JOBS ?= $(shell nproc)
SCENARIO ?= scenarios/default.yaml

.PHONY: all setup configure build run test test-sanitize test-sanitize-parsers fuzz bench clean

all: build

setup:
	@scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/sim/aifsim run $(SCENARIO) -o results/default.h5

# The parsers' seed replays run once, under the sanitizers (test-sanitize-parsers), not also in the release build.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS) --no-tests=error \
	  -E 'fuzz_replay_($(subst $(eval) ,|,$(PARSER_TARGETS)))$$'
	$(MAKE) --no-print-directory test-sanitize-parsers

# -O1 -g1: the sanitizers' reports need line numbers, and -O2's inlining slows an instrumented build by half again.
# Left out: the validation label (it times a real engine), and the three tests that simulate the longest (a month of
# a site, every example twice over): each passes the 15-minute limit instrumented, and the code they run is the code
# the shorter scenario tests run. The MPI tests run with leak detection off (address and UB checks stay on): Open MPI
# 4.1 unloads its components at MPI_Finalize, so LSan cannot name the library its leaks came from and no suppression
# matches them.
SANITIZE_DIR ?= build/sanitize
SANITIZE_LABELS ?= unit|model|fingerprint|smoke|fuzz|gui
SANITIZE_LONG = CarbonAwareMonth|ExampleScenarios.EachRunsAndFinishesItsRequests|fingerprints_of_the_examples_unchanged
SANITIZE_MPI = Mpi|slurm
test-sanitize: setup
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" \
	  -DAIF_SANITIZE=ON -DAIF_BUILD_BENCH=OFF
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	$(SANITIZER_ENV) ctest --test-dir $(SANITIZE_DIR) --output-on-failure -j $(JOBS) --no-tests=error \
	  -L '$(SANITIZE_LABELS)' -E '$(SANITIZE_LONG)|$(SANITIZE_MPI)'
	$(subst detect_leaks=1,detect_leaks=0,$(SANITIZER_ENV)) ctest --test-dir $(SANITIZE_DIR) --output-on-failure -j $(JOBS) \
	  --no-tests=error -L '$(SANITIZE_LABELS)' -R '$(SANITIZE_MPI)'

# The part of test-sanitize that fits CI's 20 minutes, run by make test: the parsers that need no simulator (scenario,
# --set, traces, signals, calibration tables, results files) and only their libraries, built under ASan + UBSan,
# replaying every fuzz seed (the repository's valid and bad inputs) and every kept corpus and crash input. -O0: the
# build is most of its time (some 30 s less than -O1 on 2 cores), and the replays are short.
SANITIZE_PARSERS_DIR ?= build/sanitize-parsers
PARSER_TARGETS = scenario set_override trace signal calibration results
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizer.supp
test-sanitize-parsers: setup
	cmake -S . -B $(SANITIZE_PARSERS_DIR) -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O0 -g1" \
	  -DAIF_SANITIZE=ON -DAIF_BUILD_GUI=OFF -DAIF_BUILD_KERNELS=OFF -DAIF_BUILD_BENCH=OFF -DAIF_BUILD_TESTS=OFF \
	  -DAIF_WITH_MPI=OFF > /dev/null
	cmake --build $(SANITIZE_PARSERS_DIR) -j $(JOBS) --target $(addprefix replay_,$(PARSER_TARGETS))
	for t in $(PARSER_TARGETS); do \
	  $(SANITIZER_ENV) fuzz/replay.sh $(SANITIZE_PARSERS_DIR)/fuzz/replay_$$t $$t $(SANITIZE_PARSERS_DIR)/fuzz/seeds \
	    $(BUILD_DIR)/sim/aifsim || exit 1; \
	done

FUZZ_DIR ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = scenario set_override sweep plan trace signal calibration results
fuzz: build
	@scripts/setup.sh --fuzz
	CXX=clang++ CC=clang cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_FLAGS_FUZZ="-O1 -g1" \
	  -DAIF_FUZZ=ON -DAIF_BUILD_GUI=OFF -DAIF_BUILD_KERNELS=OFF -DAIF_BUILD_BENCH=OFF -DAIF_BUILD_TESTS=OFF -DAIF_WITH_MPI=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) 0 $(FUZZ_TARGETS)

bench: build
	bench/run.sh $(BUILD_DIR)
	bench/sweep.sh $(BUILD_DIR)

clean:
	rm -rf build results
