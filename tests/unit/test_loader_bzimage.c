/* SPDX-License-Identifier: MIT */
/* bzImage loader: zero page, e820, cmdline, initrd placement and page tables for the 64-bit
 * entry; malformed and unfitting kernels are refused without touching guest RAM. */
#include <asm/bootparam.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "boot/boot.h"
#include "fake_guest.h"
#include "layout.h"

#define RAM	    (64ull << 20)
#define SETUP_SECTS 4
#define PAYLOAD	    0x3000
#define KSIZE	    ((SETUP_SECTS + 1) * 512 + PAYLOAD)

struct bz {
	uint8_t buf[KSIZE];
	struct setup_header *hdr;
};

static void make_bz(struct bz *b)
{
	memset(b->buf, 0, sizeof(b->buf));
	b->hdr = (struct setup_header *)(b->buf + 0x1f1);
	struct setup_header h = {
		.setup_sects = SETUP_SECTS,
		.syssize = PAYLOAD / 16,
		.boot_flag = 0xaa55,
		.jump = 0x66eb,	      /* short jump over the header: 0x202 + 0x66 ends it */
		.header = 0x53726448, /* "HdrS" */
		.version = 0x020f,
		.loadflags = LOADED_HIGH,
		.initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000,
		.relocatable_kernel = 1,
		.xloadflags = XLF_KERNEL_64,
		.cmdline_size = 2047,
		.pref_address = 0x1000000,
		.init_size = 0x800000,
	};
	memcpy(b->hdr, &h, sizeof(h));
	memset(b->buf + (SETUP_SECTS + 1) * 512, 0x90, PAYLOAD);
	b->buf[(SETUP_SECTS + 1) * 512 + 0x200] = 0xe8; /* marks the 64-bit entry */
}

static int load(struct fake_guest *g, const struct bz *b, size_t size, const char *cmdline,
		const uint8_t *initrd, size_t initrd_size, struct vmm_boot_entry *e,
		struct host_err *err)
{
	struct vmm_boot_params p = {.kernel = b->buf,
				    .kernel_size = size,
				    .initrd = initrd,
				    .initrd_size = initrd_size,
				    .cmdline = cmdline,
				    .e820 = &g->e820};
	return vmm_boot_load(&g->mem, &p, e, err);
}

static int setup(void **state)
{
	return fake_guest_setup(state, RAM);
}

static uint64_t rd64(const struct fake_guest *g, uint64_t at)
{
	uint64_t v;
	memcpy(&v, g->ram + at, 8);
	return v;
}

static void good_kernel_loads(void **state)
{
	struct fake_guest *g = *state;
	struct bz b;
	make_bz(&b);
	static const uint8_t initrd[10000] = {9, 8, 7};
	struct vmm_boot_entry e;
	struct host_err err = {{0}};
	assert_int_equal(load(g, &b, KSIZE, "console=ttyS0", initrd, sizeof(initrd), &e, &err), 0);
	assert_int_equal(e.mode, VMM_BOOT_LINUX64);
	assert_int_equal(e.rip, 0x100200);
	assert_int_equal(g->ram[e.rip], 0xe8);
	assert_int_equal(e.arg, LAYOUT_ZERO_PAGE);

	struct boot_params zp;
	memcpy(&zp, g->ram + LAYOUT_ZERO_PAGE, sizeof(zp));
	assert_int_equal(zp.hdr.header, 0x53726448); /* header copied from the file */
	assert_int_equal(zp.hdr.version, 0x020f);
	assert_int_equal(zp.hdr.type_of_loader, 0xff);
	assert_true(zp.hdr.loadflags & CAN_USE_HEAP);
	assert_string_equal((char *)g->ram + zp.hdr.cmd_line_ptr, "console=ttyS0");
	assert_int_equal(zp.e820_entries, g->e820.nr);
	for (unsigned i = 0; i < g->e820.nr; i++) {
		assert_int_equal(zp.e820_table[i].addr, g->e820.e[i].addr);
		assert_int_equal(zp.e820_table[i].size, g->e820.e[i].size);
	}
	/* initrd: page aligned, in RAM, clear of the kernel's decompression area */
	uint64_t rd = zp.hdr.ramdisk_image | (uint64_t)zp.ext_ramdisk_image << 32;
	assert_int_equal(zp.hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(rd % 4096, 0);
	assert_true(rd >= 0x1000000 + 0x800000 || rd + sizeof(initrd) <= 0x100000 + PAYLOAD);
	assert_true(rd + sizeof(initrd) <= RAM);
	assert_memory_equal(g->ram + rd, initrd, sizeof(initrd));
	/* identity map of 4 GiB with 2 MiB pages */
	assert_int_equal(e.cr3, LAYOUT_PML4);
	assert_int_equal(rd64(g, LAYOUT_PML4) & ~0xfffull, LAYOUT_PDPT);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t pd = rd64(g, LAYOUT_PDPT + 8 * i) & ~0xfffull;
		for (unsigned j = 0; j < 512; j += 73) {
			uint64_t pte = rd64(g, pd + 8 * j);
			assert_int_equal(pte & ~0xfffull, ((uint64_t)i * 512 + j) << 21);
			assert_int_equal(pte & 0x83, 0x83); /* present, writable, 2 MiB */
		}
	}
	/* GDT: __BOOT_CS is 64-bit code, __BOOT_DS data */
	uint64_t cs = rd64(g, e.gdt_base + 0x10), ds = rd64(g, e.gdt_base + 0x18);
	assert_true(cs & (1ull << 53));		   /* L */
	assert_int_equal((cs >> 40) & 0x9a, 0x9a); /* present, code, readable */
	assert_int_equal((ds >> 40) & 0x92, 0x92); /* present, data, writable */
}

static void expect_refused(struct fake_guest *g, const struct bz *b, size_t size,
			   const char *cmdline, size_t initrd_size, int code, const char *words)
{
	struct vmm_boot_entry e;
	struct host_err err = {{0}};
	uint8_t *initrd = initrd_size ? calloc(1, initrd_size) : NULL;
	int ret = load(g, b, size, cmdline, initrd, initrd_size, &e, &err);
	free(initrd);
	assert_int_equal(ret, -code);
	assert_non_null(strstr(err.msg, words));
	assert_true(fake_guest_untouched(g));
}

static void header_problems(void **state)
{
	struct bz b;
	make_bz(&b);
	b.hdr->boot_flag = 0;
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "boot flag");
	make_bz(&b);
	b.hdr->version = 0x0206;
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "64-bit");
	make_bz(&b);
	b.hdr->xloadflags = 0;
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "64-bit");
	make_bz(&b);
	b.hdr->loadflags = 0;
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "zImage");
	make_bz(&b);
	b.hdr->syssize = 0x10000000; /* claims far more than the file holds */
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "truncated");
	make_bz(&b);
	b.hdr->setup_sects = 200;
	expect_refused(*state, &b, KSIZE, "", 0, ENOEXEC, "truncated");
}

static void truncated_files(void **state)
{
	struct bz b;
	make_bz(&b);
	static const size_t cuts[] = {0x206, 0x250, 0x26b, 3 * 512, KSIZE - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct vmm_boot_entry e;
		struct host_err err = {{0}};
		assert_int_not_equal(load(*state, &b, cuts[i], "", NULL, 0, &e, &err), 0);
		assert_true(err.msg[0]);
		assert_true(fake_guest_untouched(*state));
	}
}

static void limits(void **state)
{
	struct bz b;
	make_bz(&b);
	char cmd[2100];
	memset(cmd, 'x', sizeof(cmd) - 1);
	cmd[sizeof(cmd) - 1] = 0;
	expect_refused(*state, &b, KSIZE, cmd, 0, E2BIG, "at most 2047");
	/* init_size beyond RAM: --memory too small for the kernel */
	make_bz(&b);
	b.hdr->init_size = 0x8000000;
	expect_refused(*state, &b, KSIZE, "", 0, ENOMEM, "raise --memory");
	/* an initramfs larger than what is left */
	make_bz(&b);
	expect_refused(*state, &b, KSIZE, "", RAM - (16 << 20), ENOMEM, "initramfs");
	/* initrd_addr_max below the free RAM */
	make_bz(&b);
	b.hdr->initrd_addr_max = 0x180000;
	expect_refused(*state, &b, KSIZE, "", 0x100000, ENOMEM, "initramfs");
}

static void initrd_respects_addr_max(void **state)
{
	struct fake_guest *g = *state;
	struct bz b;
	make_bz(&b);
	b.hdr->initrd_addr_max = 0x2ffffff; /* 48 MiB - 1 */
	static uint8_t initrd[0x100000];
	struct vmm_boot_entry e;
	struct host_err err = {{0}};
	assert_int_equal(load(g, &b, KSIZE, "", initrd, sizeof(initrd), &e, &err), 0);
	struct boot_params zp;
	memcpy(&zp, g->ram + LAYOUT_ZERO_PAGE, sizeof(zp));
	assert_true(zp.hdr.ramdisk_image + sizeof(initrd) - 1 <= 0x2ffffff);
	assert_true(zp.hdr.ramdisk_image >= 0x1800000); /* above the decompression area */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_kernel_loads, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(header_problems, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(truncated_files, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(limits, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(initrd_respects_addr_max, setup,
						fake_guest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
