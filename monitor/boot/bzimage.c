/* SPDX-License-Identifier: MIT */
/*
 * Linux bzImage loader, 64-bit boot protocol (Documentation/arch/x86/boot.rst): the protected-
 * mode kernel at 1 MiB, boot_params (the zero page) with the setup header, e820 map, command
 * line and initrd, and identity-mapped page tables for the 64-bit entry at load address + 0x200.
 */
#include <asm/bootparam.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../layout.h"
#include "boot.h"

#define SETUP_HEADER_OFF	 0x1f1
#define BOOT_FLAG		 0xaa55
#define MIN_VERSION		 0x020c /* 2.12: xloadflags, so the 64-bit entry can be checked */
#define KERNEL_LOAD		 0x100000ull
#define ENTRY64_OFF		 0x200
#define TYPE_OF_LOADER_UNDEFINED 0xff
#define HEAP_END		 0xfe00

#define GDT_ENTRIES		 4
#define PTE_P			 0x1ull
#define PTE_RW			 0x2ull
#define PTE_PS			 0x80ull

struct bz_load {
	struct boot_params zp;
	uint64_t gdt[GDT_ENTRIES];
	uint64_t pml4[512], pdpt[512], pd[4][512];
	struct boot_plan plan;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

/* Copies and checks the setup header. Returns 0 or -errno. */
static int parse_header(const struct vmm_boot_params *p, struct setup_header *hdr,
			uint64_t *setup_size, struct host_err *err)
{
	const uint8_t *k = p->kernel;
	if (p->kernel_size < SETUP_HEADER_OFF + sizeof(*hdr))
		return host_err_set(err, ENOEXEC, "the bzImage is truncated (%zu bytes)",
				    p->kernel_size);
	memcpy(hdr, k + SETUP_HEADER_OFF, sizeof(*hdr));
	if (hdr->boot_flag != BOOT_FLAG)
		return host_err_set(err, ENOEXEC, "the bzImage has no boot flag 0xAA55");
	if (hdr->version < MIN_VERSION || !(hdr->xloadflags & XLF_KERNEL_64))
		return host_err_set(err, ENOEXEC,
				    "the kernel (boot protocol %u.%02u) has no 64-bit "
				    "entry point: vmmon needs protocol 2.12 or later "
				    "with XLF_KERNEL_64 (Linux 3.8+, x86_64)",
				    hdr->version >> 8, hdr->version & 0xff);
	if (!(hdr->loadflags & LOADED_HIGH))
		return host_err_set(err, ENOEXEC,
				    "the image is a zImage, not a bzImage: vmmon "
				    "loads kernels at 1 MiB");
	unsigned sects = hdr->setup_sects ? hdr->setup_sects : 4;
	*setup_size = (uint64_t)(sects + 1) * 512;
	uint64_t sys = (uint64_t)hdr->syssize * 16;
	if (*setup_size >= p->kernel_size || sys > p->kernel_size - *setup_size)
		return host_err_set(err, ENOEXEC,
				    "the bzImage is truncated: its header describes "
				    "%" PRIu64 " bytes but the file has %zu",
				    *setup_size + sys, p->kernel_size);
	return 0;
}

static void build_page_tables(struct bz_load *l)
{
	l->pml4[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++) {
		l->pdpt[i] = (LAYOUT_PD + (uint64_t)i * 0x1000) | PTE_P | PTE_RW;
		for (unsigned j = 0; j < 512; j++)
			l->pd[i][j] = ((uint64_t)(i * 512 + j) << 21) | PTE_P | PTE_RW | PTE_PS;
	}
	/* The boot protocol's __BOOT_CS (0x10) and __BOOT_DS (0x18): flat 64-bit code, data. */
	l->gdt[2] = 0x00af9b000000ffffull;
	l->gdt[3] = 0x00cf93000000ffffull;
}

static int plan_kernel(struct bz_load *l, const struct vmm_boot_params *p,
		       const struct setup_header *hdr, uint64_t setup_size, struct host_err *err)
{
	uint64_t payload = p->kernel_size - setup_size;
	int ret = boot_plan_add(&l->plan, KERNEL_LOAD, payload, p->kernel + setup_size, payload,
				"kernel", err);
	if (ret)
		return ret;
	/* The kernel decompresses to its runtime address and needs init_size bytes from there
	 * before it reads the memory map: keep that free (and check it exists). */
	uint64_t run = hdr->pref_address;
	if (hdr->relocatable_kernel && align_up(KERNEL_LOAD, hdr->kernel_alignment) > run)
		run = align_up(KERNEL_LOAD, hdr->kernel_alignment);
	uint64_t end = run + hdr->init_size, from = KERNEL_LOAD + payload;
	if (run > from)
		from = run;
	if (end > vmm_e820_low_ram_end(p->e820))
		return host_err_set(err, ENOMEM,
				    "the kernel needs RAM up to 0x%" PRIx64 " to "
				    "decompress, but the guest's low RAM ends at 0x%" PRIx64
				    ": raise --memory",
				    end, vmm_e820_low_ram_end(p->e820));
	return end > from ? boot_plan_add(&l->plan, from, end - from, NULL, 0,
					  "the kernel's decompression area", err)
			  : 0;
}

static int plan_initrd(struct bz_load *l, const struct vmm_boot_params *p,
		       const struct setup_header *hdr, struct host_err *err)
{
	if (!p->initrd)
		return 0;
	uint64_t limit = (uint64_t)hdr->initrd_addr_max + 1;
	if (limit > LAYOUT_MMIO_HOLE)
		limit = LAYOUT_MMIO_HOLE;
	uint64_t at = boot_plan_find_top(&l->plan, p->initrd_size, limit);
	if (!at)
		return host_err_set(err, ENOMEM,
				    "the initramfs (%zu bytes) does not fit in guest RAM "
				    "below 0x%" PRIx64 " beside the kernel: raise --memory",
				    p->initrd_size, limit);
	l->zp.hdr.ramdisk_image = (uint32_t)at;
	l->zp.hdr.ramdisk_size = (uint32_t)p->initrd_size;
	l->zp.ext_ramdisk_image = (uint32_t)(at >> 32);
	l->zp.ext_ramdisk_size = (uint32_t)((uint64_t)p->initrd_size >> 32);
	return boot_plan_add(&l->plan, at, p->initrd_size, p->initrd, p->initrd_size, "initramfs",
			     err);
}

static int fill_zero_page(struct bz_load *l, const struct vmm_boot_params *p,
			  const struct setup_header *hdr, struct host_err *err)
{
	size_t cmdlen = strlen(p->cmdline);
	if (cmdlen > hdr->cmdline_size)
		return host_err_set(err, E2BIG,
				    "the command line is %zu bytes; this kernel takes at "
				    "most %u: shorten --cmdline",
				    cmdlen, hdr->cmdline_size);
	/* The header as the file has it, up to its own end (the byte at 0x201 + 0x202). */
	size_t hdr_len = 0x202 + p->kernel[0x201] - SETUP_HEADER_OFF;
	if (hdr_len > sizeof(l->zp.hdr))
		hdr_len = sizeof(l->zp.hdr);
	memcpy(&l->zp.hdr, p->kernel + SETUP_HEADER_OFF, hdr_len);
	l->zp.hdr.type_of_loader = TYPE_OF_LOADER_UNDEFINED;
	l->zp.hdr.loadflags |= CAN_USE_HEAP;
	l->zp.hdr.heap_end_ptr = HEAP_END;
	l->zp.hdr.vid_mode = 0xffff; /* "normal" */
	l->zp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	l->zp.hdr.code32_start = (uint32_t)KERNEL_LOAD;
	for (unsigned i = 0; i < p->e820->nr && i < E820_MAX_ENTRIES_ZEROPAGE; i++)
		l->zp.e820_table[i] = p->e820->e[i];
	l->zp.e820_entries = (uint8_t)p->e820->nr;
	return boot_plan_add(&l->plan, LAYOUT_CMDLINE, cmdlen + 1, p->cmdline, cmdlen + 1,
			     "command line", err);
}

int vmm_bzimage_load(struct gmem *mem, const struct vmm_boot_params *p,
		     struct vmm_boot_entry *entry, struct host_err *err)
{
	struct setup_header hdr = {0};
	uint64_t setup_size = 0;
	int ret = parse_header(p, &hdr, &setup_size, err);
	if (ret)
		return ret;
	struct bz_load *l = calloc(1, sizeof(*l)); /* large, and only needed while loading */
	if (!l)
		return host_err_set(err, ENOMEM, "out of memory while loading the kernel");
	boot_plan_init(&l->plan, p);
	build_page_tables(l);
	ret = boot_plan_add(&l->plan, 0, LAYOUT_LOW_DATA_END, NULL, 0, "the BIOS data area", err);
	if (!ret)
		ret = boot_plan_add(&l->plan, LAYOUT_GDT, sizeof(l->gdt), l->gdt, sizeof(l->gdt),
				    "GDT", err);
	if (!ret)
		ret = boot_plan_add(&l->plan, LAYOUT_ZERO_PAGE, sizeof(l->zp), &l->zp,
				    sizeof(l->zp), "zero page", err);
	if (!ret)
		ret = boot_plan_add(&l->plan, LAYOUT_PML4, sizeof(l->pml4), l->pml4,
				    sizeof(l->pml4), "PML4", err);
	if (!ret)
		ret = boot_plan_add(&l->plan, LAYOUT_PDPT, sizeof(l->pdpt), l->pdpt,
				    sizeof(l->pdpt), "PDPT", err);
	if (!ret)
		ret = boot_plan_add(&l->plan, LAYOUT_PD, sizeof(l->pd), l->pd, sizeof(l->pd),
				    "page directories", err);
	if (!ret)
		ret = plan_kernel(l, p, &hdr, setup_size, err);
	if (!ret)
		ret = fill_zero_page(l, p, &hdr, err);
	if (!ret)
		ret = plan_initrd(l, p, &hdr, err);
	if (!ret)
		ret = boot_plan_commit(&l->plan, mem, err);
	if (!ret)
		*entry = (struct vmm_boot_entry){.mode = VMM_BOOT_LINUX64,
						 .rip = KERNEL_LOAD + ENTRY64_OFF,
						 .arg = LAYOUT_ZERO_PAGE,
						 .cr3 = LAYOUT_PML4,
						 .gdt_base = LAYOUT_GDT,
						 .gdt_limit = sizeof(l->gdt) - 1};
	free(l);
	return ret;
}
