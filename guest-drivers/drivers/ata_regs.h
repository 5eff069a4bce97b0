/* SPDX-License-Identifier: MIT */
/* Inside the ATA driver (ata.c, ata_probe.c): the register layouts, and the protocol steps the
 * probe shares with the transfers. */
#ifndef G_DRIVERS_ATA_REGS_H
#define G_DRIVERS_ATA_REGS_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/ata.h"

/* Command block registers (offsets from 0x1f0 or 0x170); the names are libata's. */
#define ATA_REG_DATA   0
#define ATA_REG_ERR    1 /* read */
#define ATA_REG_NSECT  2
#define ATA_REG_LBAL   3
#define ATA_REG_LBAM   4
#define ATA_REG_LBAH   5
#define ATA_REG_DEVICE 6
#define ATA_REG_STATUS 7 /* read: acknowledges INTRQ */
#define ATA_REG_CMD    7 /* write */
/* The control block's one register: Alternate Status (read), Device Control (write). */
#define ATA_BUSY       0x80
#define ATA_DRDY       0x40
#define ATA_DF	       0x20
#define ATA_DRQ	       0x08
#define ATA_ERR	       0x01
#define ATA_NIEN       0x02
#define ATA_SRST       0x04
#define ATA_DEVICE_OBS 0xa0 /* bits 7 and 5, obsolete, written as ones */
#define ATA_LBA	       0x40
#define ATA_DEV1       0x10
/* Bus-master IDE registers (from BAR4, 8 per channel). */
#define ATA_DMA_CMD    0
#define ATA_DMA_STATUS 2 /* INTR and ERR are write-1-to-clear */
#define ATA_DMA_TABLE  4
#define ATA_DMA_START  0x01
#define ATA_DMA_WR     0x08 /* the controller writes memory: a device read */
#define ATA_DMA_ACTIVE 0x01
#define ATA_DMA_ERROR  0x02
#define ATA_DMA_INTR   0x04

/* One command's taskfile. */
struct g_ata_tf {
	uint8_t command;
	bool ext;
	uint32_t nsect; /* 256 (28-bit) and 65536 (48-bit) are written as 0 */
	uint64_t lba;
};

/* The Alternate Status (no acknowledgement). */
uint8_t g_ata_altstatus(const struct g_ata *a);
/* ATA-6's 400 ns after a Device or Command register write. */
void g_ata_pause(const struct g_ata *a);
/* Polls the Alternate Status until none of the bits in clear is set; the last value in *st.
 * 0 or -ETIMEDOUT. */
int g_ata_poll_alt(const struct g_ata *a, uint8_t clear, uint64_t deadline, uint8_t *st);
/* One PIO data-in command: tf->nsect sectors into buf, DRQ blocks of per sectors. */
int g_ata_pio_in(struct g_ata *a, const struct g_ata_tf *tf, uint16_t *buf, unsigned int per);
/* One non-data command. */
int g_ata_nodata(struct g_ata *a, const struct g_ata_tf *tf);

#endif
