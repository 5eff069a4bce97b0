/* SPDX-License-Identifier: MIT */
/*
 * Boot loaders: turn an image file (PVH ELF or Linux bzImage), an optional initramfs and a
 * command line into guest memory contents and the boot CPU's entry state. Each loader first
 * validates everything and records what it will write in a plan; only a valid plan is copied
 * into guest RAM, so a bad image leaves the guest untouched.
 */
#ifndef VMMON_BOOT_H
#define VMMON_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../e820.h"
#include "host/err.h"
#include "gmem.h"

enum vmm_boot_mode {
	VMM_BOOT_PVH,	  /* 32-bit protected mode, paging off, %ebx = hvm_start_info */
	VMM_BOOT_LINUX64, /* 64-bit mode, identity-mapped, %rsi = boot_params */
	VMM_BOOT_RESET,	  /* a CPU after reset: real mode at the reset vector F000:FFF0 */
};

struct vmm_boot_entry {
	enum vmm_boot_mode mode;
	uint64_t rip;
	uint64_t arg; /* PVH: start info address (%ebx); Linux: zero page address (%rsi); reset:
		       * the processor signature a CPU leaves in %edx */
	uint64_t cr3; /* Linux: the identity page tables */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

struct vmm_boot_params {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd; /* NULL when none */
	size_t initrd_size;
	const char *cmdline; /* "" when none */
	const struct vmm_e820 *e820;
	bool ram_is_zero; /* fresh guest RAM: zero-filling (ELF .bss) can be skipped */
};

/* Picks the loader by the image's magic. Returns 0 or -errno with err filled in. */
int vmm_boot_load(struct gmem *mem, const struct vmm_boot_params *p, struct vmm_boot_entry *entry,
		  struct host_err *err);
int vmm_pvh_load(struct gmem *mem, const struct vmm_boot_params *p, struct vmm_boot_entry *entry,
		 struct host_err *err);
int vmm_bzimage_load(struct gmem *mem, const struct vmm_boot_params *p,
		     struct vmm_boot_entry *entry, struct host_err *err);

/* --- firmware images (--firmware) --------------------------------------------------------- */

#define VMM_FIRMWARE_MIN (64u << 10)  /* and the unit of its size */
#define VMM_FIRMWARE_MAX (256u << 10) /* the KVM real-mode TSS sits just below 4 GiB - 256 KiB */

/* Refuses (one line naming path) a size that is no firmware image's. */
int vmm_firmware_check(size_t size, const char *path, struct host_err *err);
/* Where the image is mapped read-only: it ends at 4 GiB, the reset vector in its last bytes. */
uint64_t vmm_firmware_rom_base(size_t size);
/* Copies the image below 1 MiB (ending at 0x100000) and sets the reset entry. */
int vmm_firmware_load(struct gmem *mem, const uint8_t *image, size_t size,
		      struct vmm_boot_entry *entry, struct host_err *err);

/* --- shared by the loaders ------------------------------------------------------------------ */

#define BOOT_PLAN_MAX 80

/* One write: `len` bytes at `gpa`, the first `src_len` from src and the rest zero. With src NULL
 * it only reserves the range (for vmmon's tables, or the room a kernel decompresses into). */
struct boot_item {
	uint64_t gpa, len;
	const void *src;
	uint64_t src_len;
	const char *what; /* for messages: "segment 2", "initramfs", ... */
};

struct boot_plan {
	const struct vmm_e820 *e820;
	bool ram_is_zero;
	unsigned nr;
	struct boot_item item[BOOT_PLAN_MAX];
};

void boot_plan_init(struct boot_plan *plan, const struct vmm_boot_params *p);
/* Records a write after checking that it lies in RAM and overlaps no earlier item. */
int boot_plan_add(struct boot_plan *plan, uint64_t gpa, uint64_t len, const void *src,
		  uint64_t src_len, const char *what, struct host_err *err);
/* Highest 4 KiB-aligned address below `limit` where `len` bytes fit in RAM without overlapping
 * any item; 0 if none. */
uint64_t boot_plan_find_top(const struct boot_plan *plan, uint64_t len, uint64_t limit);
/* Copies every item into guest memory. */
int boot_plan_commit(const struct boot_plan *plan, struct gmem *mem, struct host_err *err);

#endif
