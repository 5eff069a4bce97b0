# Thin wrapper over meson. `make demo` builds and boots the guest; `make check` runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build demo check check-fast format tidy clean

all: build

deps:
	@scripts/install-deps

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

# Everything: unit and integration tests, then the unit tests again under ASan+UBSan.
check: deps build $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	scripts/run-tests $(BUILD) $(ASAN_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p $(BUILD) $$(git ls-files 'monitor/*.c' 'rings/*.c' 'proxy/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
