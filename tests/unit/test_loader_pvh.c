/* SPDX-License-Identifier: MIT */
/* PVH ELF loader: good images load and leave a correct start info; every malformed image is
 * refused with a message and leaves guest RAM untouched. Images are fabricated here. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "boot/boot.h"
#include "fake_guest.h"
#include "layout.h"
#include "pvh.h"

#define RAM  (64ull << 20)
#define LOAD 0x100000ull

/* An ELF64 image: header, 3 phdrs (text PT_LOAD, bss PT_LOAD, PT_NOTE), then contents. */
struct img {
	uint8_t buf[8192];
	size_t size;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static void make_image(struct img *m, uint64_t entry)
{
	memset(m, 0, sizeof(*m));
	m->eh = (Elf64_Ehdr *)m->buf;
	m->ph = (Elf64_Phdr *)(m->buf + sizeof(Elf64_Ehdr));
	memcpy(m->eh->e_ident, ELFMAG, SELFMAG);
	m->eh->e_ident[EI_CLASS] = ELFCLASS64;
	m->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh->e_ident[EI_VERSION] = EV_CURRENT;
	m->eh->e_type = ET_EXEC;
	m->eh->e_machine = EM_X86_64;
	m->eh->e_version = EV_CURRENT;
	m->eh->e_phoff = sizeof(Elf64_Ehdr);
	m->eh->e_phentsize = sizeof(Elf64_Phdr);
	m->eh->e_phnum = 3;
	m->eh->e_ehsize = sizeof(Elf64_Ehdr);
	/* text: 0x100 bytes of 0xcc at LOAD; bss: 0x2000 bytes at LOAD + 0x1000 */
	m->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_offset = 0x1000,
				.p_paddr = LOAD,
				.p_vaddr = LOAD,
				.p_filesz = 0x100,
				.p_memsz = 0x100};
	memset(m->buf + 0x1000, 0xcc, 0x100);
	m->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
				.p_offset = 0x1100,
				.p_paddr = LOAD + 0x1000,
				.p_filesz = 0x10,
				.p_memsz = 0x2000};
	memset(m->buf + 0x1100, 0x11, 0x10);
	/* note: "Xen" PHYS32_ENTRY, 4-byte value */
	uint8_t *n = m->buf + 0x1200;
	Elf32_Nhdr nh = {.n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY};
	memcpy(n, &nh, sizeof(nh));
	memcpy(n + sizeof(nh), "Xen", 4);
	uint32_t e = (uint32_t)entry;
	memcpy(n + sizeof(nh) + 4, &e, 4);
	m->ph[2] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = 0x1200, .p_filesz = sizeof(nh) + 8};
	m->size = 0x1300;
}

static int load(struct fake_guest *g, const struct img *m, const char *cmdline,
		const uint8_t *initrd, size_t initrd_size, struct vmm_boot_entry *entry,
		struct host_err *err)
{
	struct vmm_boot_params p = {.kernel = m->buf,
				    .kernel_size = m->size,
				    .initrd = initrd,
				    .initrd_size = initrd_size,
				    .cmdline = cmdline,
				    .e820 = &g->e820};
	return vmm_boot_load(&g->mem, &p, entry, err);
}

static int setup(void **state)
{
	return fake_guest_setup(state, RAM);
}

static void good_image_loads(void **state)
{
	struct fake_guest *g = *state;
	struct img m;
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	make_image(&m, LOAD + 0x10);
	static const uint8_t initrd[5000] = {1, 2, 3};
	assert_int_equal(load(g, &m, "run=hello x=1", initrd, sizeof(initrd), &entry, &err), 0);
	assert_int_equal(entry.mode, VMM_BOOT_PVH);
	assert_int_equal(entry.rip, LOAD + 0x10);
	assert_int_equal(entry.arg, LAYOUT_START_INFO);
	/* segments: file bytes, then zeroed bss */
	assert_int_equal(g->ram[LOAD], 0xcc);
	assert_int_equal(g->ram[LOAD + 0xff], 0xcc);
	assert_int_equal(g->ram[LOAD + 0x100], 0xa5); /* between segments: untouched */
	assert_int_equal(g->ram[LOAD + 0x1000], 0x11);
	assert_int_equal(g->ram[LOAD + 0x1010], 0);
	assert_int_equal(g->ram[LOAD + 0x2fff], 0);
	/* start info */
	struct hvm_start_info si;
	memcpy(&si, g->ram + LAYOUT_START_INFO, sizeof(si));
	assert_int_equal(si.magic, HVM_START_MAGIC);
	assert_int_equal(si.version, 1);
	assert_string_equal((char *)g->ram + si.cmdline_paddr, "run=hello x=1");
	assert_int_equal(si.memmap_entries, g->e820.nr);
	struct hvm_memmap_table_entry mm[8];
	memcpy(mm, g->ram + si.memmap_paddr, sizeof(mm[0]) * si.memmap_entries);
	for (unsigned i = 0; i < si.memmap_entries; i++) {
		assert_int_equal(mm[i].addr, g->e820.e[i].addr);
		assert_int_equal(mm[i].size, g->e820.e[i].size);
		assert_int_equal(mm[i].type, g->e820.e[i].type);
	}
	assert_int_equal(si.nr_modules, 1);
	struct hvm_modlist_entry mod;
	memcpy(&mod, g->ram + si.modlist_paddr, sizeof(mod));
	assert_int_equal(mod.size, sizeof(initrd));
	assert_int_equal(mod.paddr % 4096, 0);
	assert_true(mod.paddr + mod.size <= RAM);
	assert_memory_equal(g->ram + mod.paddr, initrd, sizeof(initrd));
}

static void no_initrd_no_modules(void **state)
{
	struct fake_guest *g = *state;
	struct img m;
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	make_image(&m, LOAD);
	assert_int_equal(load(g, &m, "", NULL, 0, &entry, &err), 0);
	struct hvm_start_info si;
	memcpy(&si, g->ram + LAYOUT_START_INFO, sizeof(si));
	assert_int_equal(si.nr_modules, 0);
	assert_string_equal((char *)g->ram + si.cmdline_paddr, "");
}

static void fresh_ram_skips_zero_fill(void **state)
{
	struct fake_guest *g = *state;
	struct img m;
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	make_image(&m, LOAD);
	struct vmm_boot_params p = {.kernel = m.buf,
				    .kernel_size = m.size,
				    .cmdline = "",
				    .e820 = &g->e820,
				    .ram_is_zero = true};
	assert_int_equal(vmm_boot_load(&g->mem, &p, &entry, &err), 0);
	assert_int_equal(g->ram[LOAD + 0x1000], 0x11); /* file bytes are copied */
	assert_int_equal(g->ram[LOAD + 0x1010], 0xa5); /* .bss is left alone */
	assert_int_equal(g->ram[LOAD + 0x2fff], 0xa5);
}

static void elf32_and_8byte_note(void **state)
{
	struct fake_guest *g = *state;
	/* ELF32 image with an 8-byte (Linux-style) entry note. */
	uint8_t buf[0x400] = {0};
	Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;
	Elf32_Phdr *ph = (Elf32_Phdr *)(buf + sizeof(*eh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf32_Phdr){.p_type = PT_LOAD,
			     .p_offset = 0x200,
			     .p_paddr = 0x200000,
			     .p_filesz = 0x10,
			     .p_memsz = 0x10};
	memset(buf + 0x200, 0x77, 0x10);
	Elf32_Nhdr nh = {.n_namesz = 4, .n_descsz = 8, .n_type = XEN_ELFNOTE_PHYS32_ENTRY};
	memcpy(buf + 0x300, &nh, sizeof(nh));
	memcpy(buf + 0x300 + sizeof(nh), "Xen", 4);
	uint64_t e = 0x200004;
	memcpy(buf + 0x300 + sizeof(nh) + 4, &e, 8);
	ph[1] = (Elf32_Phdr){.p_type = PT_NOTE, .p_offset = 0x300, .p_filesz = sizeof(nh) + 12};
	struct vmm_boot_params p = {
		.kernel = buf, .kernel_size = sizeof(buf), .cmdline = "", .e820 = &g->e820};
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	assert_int_equal(vmm_boot_load(&g->mem, &p, &entry, &err), 0);
	assert_int_equal(entry.rip, 0x200004);
	assert_int_equal(g->ram[0x200000], 0x77);
}

/* A malformation: applied to a good image, it must fail with a message containing `words`
 * and leave RAM as it was. */
static void expect_refused(struct fake_guest *g, struct img *m, const char *cmdline,
			   size_t initrd_size, int code, const char *words)
{
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	uint8_t *initrd = initrd_size ? calloc(1, initrd_size) : NULL;
	int ret = load(g, m, cmdline, initrd, initrd_size, &entry, &err);
	free(initrd);
	assert_int_equal(ret, -code);
	assert_non_null(strstr(err.msg, words));
	assert_null(strchr(err.msg, '\n')); /* one line */
	assert_true(fake_guest_untouched(g));
}

static void not_elf_nor_bzimage(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	m.buf[0] = 'X';
	expect_refused(*state, &m, "", 0, ENOEXEC, "neither an ELF");
}

static void truncated_everywhere(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	size_t full = m.size;
	/* Cut the file at every interesting length: header, phdrs, note, segment data. */
	static const size_t cuts[] = {5, 20, 63, 64, 100, 0x1000 + 0x80, 0x1100 + 4, 0x1200 + 8};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		m.size = cuts[i];
		assert_true(m.size < full);
		struct vmm_boot_entry entry;
		struct host_err err = {{0}};
		assert_int_not_equal(load(*state, &m, "", NULL, 0, &entry, &err), 0);
		assert_true(err.msg[0] != 0);
		assert_true(fake_guest_untouched(*state));
	}
}

static void bad_headers(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	m.eh->e_ident[EI_CLASS] = 7;
	expect_refused(*state, &m, "", 0, ENOEXEC, "not a little-endian");
	make_image(&m, LOAD);
	m.eh->e_machine = EM_AARCH64;
	expect_refused(*state, &m, "", 0, ENOEXEC, "not an x86 executable");
	make_image(&m, LOAD);
	m.eh->e_type = ET_REL;
	expect_refused(*state, &m, "", 0, ENOEXEC, "not an x86 executable");
	make_image(&m, LOAD);
	m.eh->e_phentsize = 12;
	expect_refused(*state, &m, "", 0, ENOEXEC, "program headers");
	make_image(&m, LOAD);
	m.eh->e_phnum = 0;
	expect_refused(*state, &m, "", 0, ENOEXEC, "program headers");
	make_image(&m, LOAD);
	m.eh->e_phoff = UINT64_MAX - 8; /* offset + size overflows */
	expect_refused(*state, &m, "", 0, ENOEXEC, "program headers");
}

static void note_problems(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	m.ph[2].p_type = PT_NULL; /* no note at all */
	expect_refused(*state, &m, "", 0, ENOEXEC, "no PVH entry note");
	make_image(&m, LOAD);
	memcpy(m.buf + 0x1200 + sizeof(Elf32_Nhdr), "Xyz", 4); /* wrong owner */
	expect_refused(*state, &m, "", 0, ENOEXEC, "no PVH entry note");
	make_image(&m, LOAD);
	((Elf32_Nhdr *)(m.buf + 0x1200))->n_descsz = 0x7fffffff; /* runs off the segment */
	expect_refused(*state, &m, "", 0, ENOEXEC, "malformed note");
	make_image(&m, LOAD);
	((Elf32_Nhdr *)(m.buf + 0x1200))->n_descsz = 2;
	expect_refused(*state, &m, "", 0, ENOEXEC, "2-byte value");
	make_image(&m, LOAD);
	m.ph[2].p_offset = 0x100000; /* note outside the file */
	expect_refused(*state, &m, "", 0, ENOEXEC, "truncated");
	make_image(&m, 0x5000000); /* entry outside every segment */
	expect_refused(*state, &m, "", 0, ENOEXEC, "not inside any loaded segment");
}

static void segment_problems(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	m.ph[0].p_filesz = 0x200; /* filesz > memsz */
	expect_refused(*state, &m, "", 0, ENOEXEC, "segment 0");
	make_image(&m, LOAD);
	m.ph[0].p_offset = UINT64_MAX - 0x10; /* offset + filesz overflows */
	expect_refused(*state, &m, "", 0, ENOEXEC, "truncated");
	make_image(&m, 0xc0000000);
	m.ph[0].p_paddr = 0xc0000000; /* in the PCI hole */
	expect_refused(*state, &m, "", 0, EINVAL, "hole");
	make_image(&m, 0xa0000);
	m.ph[0].p_paddr = 0xa0000; /* VGA/BIOS hole */
	expect_refused(*state, &m, "", 0, EINVAL, "hole");
	make_image(&m, UINT64_MAX - 0x10);
	m.ph[0].p_paddr = UINT64_MAX - 0x10; /* wraps */
	expect_refused(*state, &m, "", 0, EINVAL, "0x");
	make_image(&m, RAM - 0x80);
	m.ph[0].p_paddr = RAM - 0x80; /* runs past the end of RAM: memory too small */
	expect_refused(*state, &m, "", 0, ENOMEM, "raise --memory");
	make_image(&m, LOAD);
	m.ph[1].p_paddr = LOAD + 0x80; /* overlaps segment 0 */
	expect_refused(*state, &m, "", 0, EINVAL, "overlaps image segment 0");
	make_image(&m, LAYOUT_START_INFO);
	m.ph[0].p_paddr = LAYOUT_START_INFO; /* onto vmmon's boot data */
	expect_refused(*state, &m, "", 0, EINVAL, "overlaps");
	make_image(&m, 0x100);
	m.ph[0].p_paddr = 0x100; /* onto the BIOS data area */
	expect_refused(*state, &m, "", 0, EINVAL, "BIOS data area");
}

static void cmdline_and_initrd_limits(void **state)
{
	struct img m;
	make_image(&m, LOAD);
	char *big = malloc(LAYOUT_CMDLINE_MAX + 1);
	memset(big, 'a', LAYOUT_CMDLINE_MAX);
	big[LAYOUT_CMDLINE_MAX] = 0;
	expect_refused(*state, &m, big, 0, E2BIG, "shorten --cmdline");
	big[LAYOUT_CMDLINE_MAX - 1] = 0; /* exactly the limit with its NUL: fits */
	struct vmm_boot_entry entry;
	struct host_err err = {{0}};
	assert_int_equal(load(*state, &m, big, NULL, 0, &entry, &err), 0);
	free(big);
	struct fake_guest *g = *state;
	memset(g->ram, 0xa5, g->size);
	expect_refused(*state, &m, "", RAM, ENOMEM, "initramfs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_image_loads, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(no_initrd_no_modules, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(fresh_ram_skips_zero_fill, setup,
						fake_guest_teardown),
		cmocka_unit_test_setup_teardown(elf32_and_8byte_note, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(not_elf_nor_bzimage, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(truncated_everywhere, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(bad_headers, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(note_problems, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(segment_problems, setup, fake_guest_teardown),
		cmocka_unit_test_setup_teardown(cmdline_and_initrd_limits, setup,
						fake_guest_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
