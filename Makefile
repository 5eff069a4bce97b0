# Thin wrapper over meson. `make demo` builds and boots the guest; `make check` runs every test;
# `make bench` runs the whole measurement matrix (bench/README.md), `make bench-smoke` a second of
# each of its paths.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps bench-deps build demo check check-fast bench bench-smoke format tidy clean

all: build

deps:
	@scripts/install-deps

# fio, perf, gnuplot, QEMU and qemu-storage-daemon: the bench's peers and its tools.
bench-deps:
	@scripts/install-bench-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

# The sanitizer build covers the unit tests; the freestanding guest image is not built there.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dguest=false \
		-Dbuildtype=debug -Dc_args=-fno-sanitize-recover=all

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	$(BUILD)/monitor/vmmon --kernel $(BUILD)/guest-drivers/guest.elf --cmdline run=hello \
		--serial stdio

# Everything: unit and integration tests (bench-smoke among them), then the unit tests again
# under ASan+UBSan.
check: deps bench-deps build $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	scripts/run-tests $(BUILD) $(ASAN_BUILD)

# The full matrix into bench/results/<date>/ and bench/results/latest/ (BENCH_ARGS: e.g.
# --repeat 5 --seconds 5, --sections blk).
bench: deps bench-deps build
	bench/run.py --build $(BUILD) $(BENCH_ARGS)

# Every path once for about a second, into a temporary directory: the check make check runs.
bench-smoke: deps bench-deps build
	bench/run.py --smoke --build $(BUILD) $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p $(BUILD) $$(git ls-files 'monitor/*.c' 'rings/*.c' 'proxy/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
