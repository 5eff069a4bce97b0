/* SPDX-License-Identifier: MIT */
/*
 * An ATA hard disk (ATA/ATAPI-6) behind a PCI IDE controller in compatibility mode, such as the
 * PIIX3 (8086:7010) of QEMU's pc machine: the legacy command and control blocks (0x1f0/0x3f6 on
 * ISA IRQ 14, 0x170/0x376 on IRQ 15) and the bus-master IDE registers in BAR4 (PCI IDE
 * Controller Specification and Bus Master Programming Interface, rev 1.0). The first ATA disk
 * found is driven: primary before secondary, master before slave. Command codes and the
 * IDENTIFY layout are Linux's <linux/hdreg.h>.
 *
 * Transfers are PIO, READ/WRITE SECTORS (EXT) or READ/WRITE MULTIPLE (EXT), each DRQ block moved
 * by one rep insw/outsw, or DMA, READ/WRITE DMA (EXT) through a PRD table. A command uses the
 * 48-bit form when it needs it (its sectors reach past LBA28 or it moves more than 256) or,
 * with lba48_always, every time. Completion is interrupt-driven (nIEN clear; the ISA IRQ comes
 * through the I/O APIC and reading the Status register acknowledges it) or polled (nIEN set;
 * the Alternate Status is polled). Commands run one at a time and synchronously: the caller
 * waits, asleep in SYS_WAIT when interrupt-driven.
 */
#ifndef G_DRIVERS_ATA_H
#define G_DRIVERS_ATA_H

#include <linux/hdreg.h>
#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"

#define G_ATA_SECTOR	 512
#define G_ATA_PRD_MAX	 512  /* PRD entries: one 4 KiB table */
#define G_ATA_EXT_MAX	 2048 /* sectors per 48-bit command (1 MiB); 28-bit ones take 256 */
#define G_ATA_TIMEOUT_US 10000000

/* What the program asks for (programs/blkdev_ata.c reads it from the command line). */
struct g_ata_opts {
	bool poll;	   /* nIEN set, the Alternate Status polled */
	bool dma;	   /* bus-master DMA; PIO otherwise */
	bool sectors;	   /* PIO with READ/WRITE SECTORS even when multiple mode is there */
	bool lba48_always; /* the 48-bit commands for every transfer */
};

/* One physical region descriptor (Bus Master Programming Interface, 1.2). */
struct g_ata_prd {
	uint32_t addr;	/* physical, even */
	uint16_t count; /* bytes, even; 0 is 64 KiB */
	uint16_t flags; /* G_ATA_PRD_EOT on the last entry */
};
_Static_assert(sizeof(struct g_ata_prd) == 8, "PRD entries are 8 bytes");
#define G_ATA_PRD_EOT 0x8000

struct g_ata {
	struct g_pci_dev pci;
	struct g_ata_opts o;
	uint16_t cmd, ctl, bm;	     /* command block, control block, bus master (0: none) */
	unsigned int channel, drive; /* 0: primary, master */
	unsigned int irq, vector;    /* ISA IRQ; its LAPIC vector when interrupt-driven */
	char where[96];		     /* for "mem:" lines */
	const char *why;	     /* what g_ata_probe found wrong */
	/* From IDENTIFY DEVICE, strings trimmed. */
	char model[41], serial[21], firmware[9];
	uint64_t sectors;
	bool lba48;		   /* 48-bit commands supported and enabled */
	bool flush, flush_ext;	   /* FLUSH CACHE (EXT) supported */
	unsigned int max_multiple; /* largest DRQ block READ/WRITE MULTIPLE takes, 0: none */
	unsigned int multiple;	   /* set with SET MULTIPLE MODE; 0: not used */
	struct hd_driveid *id;
	struct g_ata_prd *prd;
	/* The last failure: command, Status and Error registers. */
	uint8_t fail_cmd, fail_status, fail_error;
	/* The device is known to be ready for a command: the last command's ending Status showed
	 * DRDY with BSY, DRQ, ERR and DF clear, and nothing was written to the channel since
	 * (ata.c, issue()). */
	bool ready;
	uint64_t commands;   /* command bytes written */
	uint64_t irq_seen;   /* interrupt count when the driver last looked */
	uint64_t drq_blocks; /* PIO blocks moved */
};

/* Finds the controller and the first ATA disk: soft reset of each channel, signature, IDENTIFY
 * DEVICE, SET MULTIPLE MODE (the largest the disk takes, unless o->sectors), the interrupt
 * routed or nIEN set, the PRD table for DMA. Returns 0 or -errno with a->why set. */
int g_ata_probe(struct g_ata *a, const struct g_ata_opts *o);

/* Reads or writes n sectors from lba to or from buf (physically contiguous, even; below 4 GiB
 * for DMA), in as many commands as it takes. 0, -EINVAL (out of range), -EIO (the device
 * reported an error: fail_* say which) or -ETIMEDOUT. */
int g_ata_rw(struct g_ata *a, bool write, uint64_t lba, void *buf, uint32_t n);

/* FLUSH CACHE, or FLUSH CACHE EXT on a 48-bit disk that has it. -ENOTSUP without either. */
int g_ata_flush(struct g_ata *a);

/* Interrupts taken on the disk's vector by this CPU (0 when polling). */
uint64_t g_ata_irq_count(const struct g_ata *a);

#endif
