/* SPDX-License-Identifier: MIT */
/* Firmware images (--firmware): the sizes accepted (a multiple of 64 KiB up to 256 KiB) and
 * refused with one line, the ROM's place ending at 4 GiB, and the copy below 1 MiB ending at
 * 0x100000, with nothing else in guest RAM touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "boot/boot.h"
#include "fake_guest.h"
#include "layout.h"

#define RAM (8ull << 20)

static void test_sizes(void **state)
{
	(void)state;
	struct host_err e;
	static const size_t good[] = {64 << 10, 128 << 10, 192 << 10, 256 << 10};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(vmm_firmware_check(good[i], "f", &e), 0);
		assert_int_equal(vmm_firmware_rom_base(good[i]), LAYOUT_4G - good[i]);
	}
	static const size_t bad[] = {0,	       1,	  512,	  (64 << 10) - 1, (64 << 10) + 512,
				     96 << 10, 320 << 10, 1 << 20};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(vmm_firmware_check(bad[i], "img.bin", &e), -EINVAL);
		assert_non_null(strstr(e.msg, "--firmware img.bin: "));
		assert_non_null(strstr(e.msg, "is not a firmware image's size"));
		assert_null(strchr(e.msg, '\n'));
	}
	/* The largest image stays clear of KVM's real-mode pages below it. */
	assert_true(vmm_firmware_rom_base(VMM_FIRMWARE_MAX) >= LAYOUT_KVM_REALMODE_END);
}

static void load(struct fake_guest *g, size_t size)
{
	uint8_t *img = malloc(size);
	assert_non_null(img);
	for (size_t i = 0; i < size; i++)
		img[i] = (uint8_t)(i * 13 + 7);
	struct vmm_boot_entry entry = {.mode = VMM_BOOT_PVH, .rip = 1};
	struct host_err e = {{0}};
	assert_int_equal(vmm_firmware_load(&g->mem, img, size, &entry, &e), 0);
	assert_int_equal(entry.mode, VMM_BOOT_RESET);
	assert_int_equal(entry.rip, 0);
	uint64_t at = LAYOUT_HIGH_RAM - size;
	assert_memory_equal(g->ram + at, img, size);
	/* The reset vector's far jump sits at 0xFFFF0 in the copy, as at 0xFFFFFFF0 in the ROM. */
	assert_int_equal(g->ram[0xffff0], img[size - 16]);
	for (uint64_t i = 0; i < g->size; i++)
		if (i < at || i >= LAYOUT_HIGH_RAM)
			assert_int_equal(g->ram[i], 0xa5);
	free(img);
}

static void test_copy_below_1m(void **state)
{
	(void)state;
	static const size_t sizes[] = {64 << 10, 128 << 10, 256 << 10};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct fake_guest g;
		assert_int_equal(fake_guest_init(&g, RAM), 0);
		load(&g, sizes[i]);
		fake_guest_free(&g);
	}
}

static void test_bad_size_leaves_ram(void **state)
{
	(void)state;
	struct fake_guest g;
	assert_int_equal(fake_guest_init(&g, RAM), 0);
	static uint8_t img[96 << 10];
	struct vmm_boot_entry entry;
	struct host_err e = {{0}};
	assert_int_equal(vmm_firmware_load(&g.mem, img, sizeof(img), &entry, &e), -EINVAL);
	assert_true(fake_guest_untouched(&g));
	fake_guest_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_copy_below_1m),
		cmocka_unit_test(test_bad_size_leaves_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
