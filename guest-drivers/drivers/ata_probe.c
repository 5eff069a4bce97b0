// SPDX-License-Identifier: MIT
/*
 * Finding the disk: the first PCI IDE controller, each channel in compatibility mode reset
 * (SRST) and its devices' signatures read, then IDENTIFY DEVICE and SET MULTIPLE MODE, and the
 * interrupt routed or nIEN set.
 */
#include <linux/pci_regs.h>
#include <stddef.h>

#include "drivers/ata.h"
#include "drivers/ata_regs.h"
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define CLASS_IDE 0x0101
/* Programming interface bits: channel 0 or 1 in native-PCI mode (ports from BARs). */
#define PROGIF_NATIVE0	 0x01
#define PROGIF_NATIVE1	 0x04
#define RESET_TIMEOUT_US 5000000
#define ID_W83_VALID	 0x4000 /* word 83 bits 15:14 = 01: the word is meaningful */
#define ID_W83_LBA48	 (1u << 10)
#define ID_W83_FLUSH	 (1u << 12)
#define ID_W83_FLUSH_EXT (1u << 13)
#define ID_CAP_LBA	 0x02 /* in hd_driveid.capability, word 49 bit 9 */

_Static_assert(offsetof(struct hd_driveid, serial_no) == 10 * 2, "IDENTIFY word 10");
_Static_assert(offsetof(struct hd_driveid, model) == 27 * 2, "IDENTIFY word 27");
_Static_assert(offsetof(struct hd_driveid, max_multsect) == 47 * 2, "IDENTIFY word 47");
_Static_assert(offsetof(struct hd_driveid, lba_capacity) == 60 * 2, "IDENTIFY word 60");
_Static_assert(offsetof(struct hd_driveid, command_set_2) == 83 * 2, "IDENTIFY word 83");
_Static_assert(offsetof(struct hd_driveid, lba_capacity_2) == 100 * 2, "IDENTIFY word 100");
_Static_assert(sizeof(struct hd_driveid) == G_ATA_SECTOR, "IDENTIFY is one sector");

/* IDENTIFY strings hold two characters per word, the first in the high byte. */
static void id_string(char *dst, const unsigned char *src, unsigned int len)
{
	unsigned int end = 0;

	for (unsigned int i = 0; i < len; i++) {
		dst[i] = (char)src[i ^ 1];
		if (dst[i] != ' ' && dst[i])
			end = i + 1;
	}
	dst[end] = '\0';
}

static int identify(struct g_ata *a)
{
	const struct hd_driveid *id = a->id;
	struct g_ata_tf tf = {.command = WIN_IDENTIFY, .nsect = 1}; /* one DRQ block of data */
	int rc = g_ata_pio_in(a, &tf, (uint16_t *)a->id, 1);
	bool w83;

	if (rc) {
		a->why = "IDENTIFY DEVICE failed";
		return rc;
	}
	w83 = (id->command_set_2 & 0xc000) == ID_W83_VALID;
	if (id->config & 0x8000 || !(id->capability & ID_CAP_LBA)) {
		a->why = "IDENTIFY DEVICE: not an ATA disk with LBA";
		return -ENODEV;
	}
	id_string(a->model, id->model, sizeof(id->model));
	id_string(a->serial, id->serial_no, sizeof(id->serial_no));
	id_string(a->firmware, id->fw_rev, sizeof(id->fw_rev));
	a->lba48 = w83 && (id->command_set_2 & ID_W83_LBA48) && (id->cfs_enable_2 & ID_W83_LBA48);
	a->flush = w83 && (id->command_set_2 & ID_W83_FLUSH);
	a->flush_ext = w83 && (id->command_set_2 & ID_W83_FLUSH_EXT);
	a->sectors = a->lba48 ? id->lba_capacity_2 : id->lba_capacity;
	a->max_multiple = id->max_multsect;
	return 0;
}

/* The largest power of two the disk takes per DRQ block (ATA-6 8.39 leaves others undefined). */
static int set_multiple(struct g_ata *a)
{
	struct g_ata_tf tf = {.command = WIN_SETMULT};
	unsigned int n = 1;
	int rc;

	if (a->o.sectors || a->o.dma || a->max_multiple < 2)
		return 0;
	while (n * 2 <= a->max_multiple)
		n *= 2;
	tf.nsect = n;
	rc = g_ata_nodata(a, &tf);
	if (rc) {
		a->why = "SET MULTIPLE MODE failed";
		return rc;
	}
	a->multiple = n;
	return 0;
}

/* Soft reset through Device Control (ATA-6 9.2), with nIEN set while it runs. Device 0 is
 * selected first, as Linux does: the wait for BSY to clear must read device 0's status, and
 * an emulation may leave the selection where the firmware left it (QEMU keeps it), on an
 * absent device 1 that reads as 0, not busy, before the reset is done. */
static int reset_channel(struct g_ata *a)
{
	uint8_t st;

	a->ready = false; /* BSY until the reset ends: read before the next command */
	g_outb(a->cmd + ATA_REG_DEVICE, ATA_DEVICE_OBS);
	g_ata_pause(a);
	g_outb(a->ctl, ATA_NIEN | ATA_SRST);
	g_udelay(5);
	g_outb(a->ctl, ATA_NIEN);
	g_udelay(2000);
	return g_ata_poll_alt(a, ATA_BUSY, g_tsc_deadline(RESET_TIMEOUT_US), &st);
}

/* After a reset: selects drive (ATA-6 9.6: BSY and DRQ clear first, or the device may ignore
 * the write) and says whether it shows the ATA signature (9.12). An absent device reads as 0
 * (or a floating 0xff), an ATAPI one as 0x14/0xeb. */
static bool is_ata_disk(struct g_ata *a, unsigned int drive)
{
	uint16_t r = a->cmd;
	uint8_t st;

	if (g_ata_poll_alt(a, ATA_BUSY | ATA_DRQ, g_tsc_deadline(RESET_TIMEOUT_US), &st))
		return false;
	g_outb(r + ATA_REG_DEVICE, ATA_DEVICE_OBS | (drive ? ATA_DEV1 : 0));
	g_ata_pause(a);
	if (g_ata_poll_alt(a, ATA_BUSY, g_tsc_deadline(RESET_TIMEOUT_US), &st) || st == 0 ||
	    st == 0xff)
		return false;
	return g_inb(r + ATA_REG_NSECT) == 1 && g_inb(r + ATA_REG_LBAL) == 1 &&
	       g_inb(r + ATA_REG_LBAM) == 0 && g_inb(r + ATA_REG_LBAH) == 0;
}

static int find_controller(struct g_ata *a)
{
	struct g_pci_scan scan;

	g_pci_scan_start(&scan);
	while (!g_pci_scan_next(&scan, &a->pci)) {
		if (a->pci.class_code >> 8 == CLASS_IDE)
			return 0;
	}
	a->why = "no PCI IDE controller (class 0x0101)";
	return -ENODEV;
}

/* The first ATA disk on a channel in compatibility mode. */
static int find_disk(struct g_ata *a)
{
	static const uint16_t cmd[2] = {0x1f0, 0x170}, ctl[2] = {0x3f6, 0x376};
	static const unsigned int irq[2] = {14, 15};

	for (unsigned int ch = 0; ch < 2; ch++) {
		if (a->pci.class_code & (ch ? PROGIF_NATIVE1 : PROGIF_NATIVE0))
			continue; /* not driven */
		a->channel = ch;
		a->cmd = cmd[ch];
		a->ctl = ctl[ch];
		a->irq = irq[ch];
		if (g_ata_altstatus(a) == 0xff || reset_channel(a))
			continue; /* nothing drives the bus, or nothing answers */
		for (unsigned int d = 0; d < 2; d++) {
			if (is_ata_disk(a, d)) {
				a->drive = d;
				return 0;
			}
		}
	}
	a->why = a->pci.class_code & (PROGIF_NATIVE0 | PROGIF_NATIVE1)
			 ? "no ATA disk on a compatibility-mode channel"
			 : "no ATA disk on either channel";
	return -ENOENT;
}

/* Interrupts or polling, bus mastering, memory. */
static int setup(struct g_ata *a)
{
	const struct g_pci_bar *bar4 = &a->pci.bar[4];
	int rc;

	g_pci_command(&a->pci, PCI_COMMAND_IO | (a->o.dma ? PCI_COMMAND_MASTER : 0), true);
	if (bar4->io && bar4->addr)
		a->bm = (uint16_t)(bar4->addr + 8 * a->channel);
	if (a->o.dma && !a->bm) {
		a->why = "no bus-master registers (BAR4) for DMA";
		return -ENOTSUP;
	}
	a->id = g_mem_alloc(sizeof(*a->id), 64);
	a->prd = g_mem_alloc(G_ATA_PRD_MAX * sizeof(*a->prd), 4096);
	if (!a->id || !a->prd) {
		a->why = "out of memory";
		return -ENOMEM;
	}
	if (a->bm) /* clear INTR and ERR left by the firmware */
		g_outb(a->bm + ATA_DMA_STATUS, g_inb(a->bm + ATA_DMA_STATUS));
	if (a->o.poll) {
		g_outb(a->ctl, ATA_NIEN);
		return 0;
	}
	rc = g_platform_route_isa_irq(a->irq, &a->vector);
	if (rc) {
		a->why = "cannot route the channel's ISA IRQ";
		return rc;
	}
	a->irq_seen = g_irq_count(a->vector);
	g_outb(a->ctl, 0);
	return 0;
}

int g_ata_probe(struct g_ata *a, const struct g_ata_opts *o)
{
	static const char *const chan[2] = {"primary", "secondary"};
	static const char *const pos[2] = {"master", "slave"};
	int rc;

	memset(a, 0, sizeof(*a));
	a->o = *o;
	rc = find_controller(a);
	if (!rc)
		rc = find_disk(a);
	if (!rc)
		rc = setup(a);
	if (rc)
		return rc;
	g_snprintf(a->where, sizeof(a->where),
		   "pci %02x:%02x.%x %s %s (ports 0x%x/0x%x, irq %u, bus master 0x%x)", a->pci.bus,
		   a->pci.dev, a->pci.fn, chan[a->channel], pos[a->drive], a->cmd, a->ctl, a->irq,
		   a->bm);
	rc = identify(a);
	if (!rc)
		rc = set_multiple(a);
	if (rc)
		return rc;
	if (a->o.lba48_always && !a->lba48) {
		a->why = "lba48=on, but the disk has no 48-bit commands";
		return -ENOTSUP;
	}
	return 0;
}
