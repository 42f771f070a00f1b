# shear: the two commands a new user runs are `make demo` and `make test`.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test test-asan fuzz-build demo bench clean

all: build

setup:
	@./scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache) \
	  $(CMAKE_FLAGS)

configure: setup $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD) -j$(JOBS)

# lit tests (dialect, passes, tools, numerical references) and the GoogleTest unit tests,
# then the tests that could not run on this machine and why (scripts/not-run.sh).
test: build
	ninja -C $(BUILD) -j$(JOBS) shear-unit-tests
	cd $(BUILD) && ctest --output-on-failure -j1
	@scripts/not-run.sh $(BUILD)/Testing/Temporary/LastTest.log

# The whole suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (any report fails the test that triggered it).
ASAN_BUILD ?= build-asan
test-asan: setup
	$(MAKE) BUILD=$(ASAN_BUILD) CMAKE_FLAGS="-DSHEAR_SANITIZE=ON $(CMAKE_FLAGS)" build
	ninja -C $(ASAN_BUILD) -j$(JOBS) shear-unit-tests
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp \
	  ctest --output-on-failure -j1
	@scripts/not-run.sh $(ASAN_BUILD)/Testing/Temporary/LastTest.log

# The libFuzzer targets (fuzz/), built only: bench/fuzz.sh runs them. CI
# builds them so that they keep compiling.
FUZZ_BUILD ?= build-fuzz
fuzz-build: setup
	cmake -G Ninja -S . -B $(FUZZ_BUILD) -DSHEAR_FUZZ=ON -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache) > /dev/null
	ninja -C $(FUZZ_BUILD) -j$(JOBS) shear-fuzzers

demo: build
	./examples/demo.sh $(BUILD)

bench: build
	bench/train_step.sh $(BUILD)
	bench/prune_chain_7b.sh $(BUILD)

clean:
	rm -rf $(BUILD)
