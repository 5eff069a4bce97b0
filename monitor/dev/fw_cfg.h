/* SPDX-License-Identifier: MIT */
/*
 * QEMU's firmware configuration device (fw_cfg, QEMU docs/specs/fw_cfg.rst) at its x86 ports,
 * which is how SeaBIOS learns the memory map, the CPU count, the boot order and its console:
 *   0x510      selector, 16-bit writes: picks an item and rewinds its offset;
 *   0x511      data, 8-bit reads: the item's next byte, 0 past its end (a `rep insb` burst is
 *              one call); writes are ignored, as in QEMU since v2.4;
 *   0x514-51B  DMA address, big-endian: a 32-bit write at 0x514 latches the high half, one at
 *              0x518 the low half and runs the FWCfgDmaAccess structure at that guest address
 *              (select, read, skip; writes fail: every item here is read-only); reads return
 *              the signature "QEMU CFG".
 * Items are byte strings by key: the generic ones (0x00-0x1f), the x86 ones (0x8000-0x8007),
 * and files from key 0x20 on, listed by name in the directory at key 0x19 (FW_CFG_FILE_DIR).
 * A key nobody set reads as zeros. Layouts and key names are Linux's <linux/qemu_fw_cfg.h>.
 */
#ifndef VMMON_DEV_FW_CFG_H
#define VMMON_DEV_FW_CFG_H

#include <linux/qemu_fw_cfg.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"

#define FW_CFG_PORT	     0x510
#define FW_CFG_NR_PORTS	     12 /* 0x510-0x51B */
#define FW_CFG_SEL_OFF	     0
#define FW_CFG_DATA_OFF	     1
#define FW_CFG_DMA_OFF	     4 /* high half; the low half, which starts a transfer, at +4 */
#define FW_CFG_DMA_SIZE	     8
#define FW_CFG_ARCH_KEYS     8 /* 0x8000-0x8007: ACPI, SMBIOS, IRQ0 override, e820, HPET... */
#define FW_CFG_MAX_FILES     32
#define FW_CFG_IRQ0_OVERRIDE (FW_CFG_ARCH_LOCAL + 2)
_Static_assert(FW_CFG_DMA_OFF + FW_CFG_DMA_SIZE == FW_CFG_NR_PORTS, "the DMA register ends it");
_Static_assert(sizeof(struct fw_cfg_dma_access) == 16, "FWCfgDmaAccess is 16 bytes");
_Static_assert(sizeof(struct fw_cfg_file) == 64, "a directory entry is 64 bytes");

struct fw_cfg_item {
	uint8_t *data; /* owned; NULL: the item reads as zeros */
	uint32_t size;
};

struct fw_cfg_stats {
	uint64_t dma; /* DMA operations run */
	uint64_t
		dma_errors; /* operations that set the error bit, or could not read their request */
	uint64_t refused;   /* accesses of a width or at a port the device does not have */
};

struct fw_cfg {
	pthread_mutex_t lock;
	const struct gmem *mem; /* where DMA requests and buffers live */

	struct fw_cfg_item generic[FW_CFG_FILE_FIRST];
	struct fw_cfg_item arch[FW_CFG_ARCH_KEYS];
	struct fw_cfg_item file[FW_CFG_MAX_FILES]; /* key FW_CFG_FILE_FIRST + index */
	char name[FW_CFG_MAX_FILES][FW_CFG_MAX_FILE_PATH];
	unsigned nr_files;

	/* Registers. */
	uint16_t key;
	uint32_t offset;
	uint32_t dma_high;

	struct fw_cfg_stats stats;
};

/* The signature, the ID (traditional and DMA interfaces) and an empty file directory. */
int fw_cfg_init(struct fw_cfg *c, const struct gmem *mem);
void fw_cfg_destroy(struct fw_cfg *c);
/* Sets the item at a generic or x86 key to a copy of data. Returns 0, -EINVAL for a file key or
 * one out of range, -ENOMEM. */
int fw_cfg_add(struct fw_cfg *c, uint16_t key, const void *data, uint32_t size);
/* Adds a file (name up to 55 characters, unique) with a copy of data, and lists it in the
 * directory. Returns its key, or -EINVAL, -EEXIST, -ENOSPC, -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *c, const char *name, const void *data, uint32_t size);

/* The register core: one access at offset off of the ports (bus trap shape). */
int fw_cfg_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
/* A string access: `rep insb` on the data port reads count bytes in one call; any other is its
 * accesses one by one (refused if any is). */
int fw_cfg_trap_rep(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
		    bool is_write);

#endif
