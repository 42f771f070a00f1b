# shear: the two commands a new user runs are `make demo` and `make test`.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build test demo bench clean

all: build

setup:
	@./scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache) \
	  $(CMAKE_FLAGS)

configure: setup $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD) -j$(JOBS)

# lit tests (dialect, passes, tools, numerical references) and the GoogleTest unit tests.
test: build
	ninja -C $(BUILD) -j$(JOBS) shear-unit-tests
	cd $(BUILD) && ctest --output-on-failure -j1

demo: build
	./examples/demo.sh $(BUILD)

bench: build
	bench/train_step.sh $(BUILD)
	bench/prune_chain_7b.sh $(BUILD)

clean:
	rm -rf $(BUILD)
