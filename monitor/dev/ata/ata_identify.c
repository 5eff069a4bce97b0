/* SPDX-License-Identifier: MIT */
/* IDENTIFY DEVICE data of a hard disk (ATA/ATAPI-6, 8.15, table 27). */
#include "ata.h"

#include <string.h>

#define WORD_MULT_MAX	 47
#define WORD_CAPS	 49
#define WORD_CHS_CUR	 54
#define WORD_MULT_CUR	 59
#define WORD_LBA28	 60
#define WORD_MWDMA	 63
#define WORD_PIO	 64
#define WORD_VERSION	 80
#define WORD_CMDSET	 82
#define WORD_UDMA	 88
#define WORD_RESET	 93
#define WORD_LBA48	 100
#define WORD_INTEGRITY	 255
#define CAP_IORDY	 (1u << 11)
#define CAP_LBA		 (1u << 9)
#define CAP_DMA		 (1u << 8)
#define CMDSET_WCACHE	 (1u << 5)  /* word 82/85 */
#define CMDSET_ONE	 (1u << 14) /* words 83, 84, 86, 87: "shall be one" */
#define CMDSET_FLUSH_EXT (1u << 13)
#define CMDSET_FLUSH	 (1u << 12)
#define CMDSET_LBA48	 (1u << 10)
#define VERSIONS_3_TO_6	 0x0078
#define INTEGRITY_SIG	 0xa5

/* An ATA string: two characters per word, the first in the high byte, padded with spaces. */
static void put_string(uint16_t *w, const char *s, unsigned chars)
{
	size_t n = strlen(s);
	for (unsigned i = 0; i < chars; i += 2) {
		uint8_t hi = i < n ? (uint8_t)s[i] : ' ', lo = i + 1 < n ? (uint8_t)s[i + 1] : ' ';
		w[i / 2] = (uint16_t)(hi << 8 | lo);
	}
}

/* The mode SET FEATURES selected, as a bit in the supported-modes word, if it is of `kind`. */
static uint16_t selected(const struct ata_drive *d, unsigned kind)
{
	return (d->xfer_mode >> 3) == kind ? (uint16_t)(1u << (8 + (d->xfer_mode & 7))) : 0;
}

void ata_identify(const struct ata_drive *d, unsigned unit, uint16_t id[256])
{
	memset(id, 0, 256 * sizeof(*id));
	id[0] = 0x0040; /* fixed (non-removable) ATA device */
	id[1] = d->cyls;
	id[3] = d->heads;
	id[6] = d->spt;
	put_string(&id[10], d->serial, 20);
	put_string(&id[23], d->firmware, 8);
	put_string(&id[27], d->model, 40);
	id[WORD_MULT_MAX] = 0x8000 | ATA_MAX_MULT;
	id[WORD_CAPS] = CAP_IORDY | CAP_LBA | CAP_DMA;
	id[50] = 0x4000;
	id[51] = id[52] = 0x0200; /* obsolete PIO and DMA timing modes, as drives still set */
	id[53] = 0x0007;	  /* words 54-58, 64-70 and 88 are valid */
	uint64_t cur_cyls = d->sectors / ((uint64_t)d->cur_heads * d->cur_spt);
	if (cur_cyls > 0xffff)
		cur_cyls = 0xffff;
	uint32_t cur_cap = (uint32_t)cur_cyls * d->cur_heads * d->cur_spt;
	id[WORD_CHS_CUR] = (uint16_t)cur_cyls;
	id[WORD_CHS_CUR + 1] = d->cur_heads;
	id[WORD_CHS_CUR + 2] = d->cur_spt;
	id[WORD_CHS_CUR + 3] = (uint16_t)cur_cap;
	id[WORD_CHS_CUR + 4] = (uint16_t)(cur_cap >> 16);
	id[WORD_MULT_CUR] = 0x0100 | d->mult;
	uint64_t lba28 = d->sectors < ATA_LBA28_MAX ? d->sectors : ATA_LBA28_MAX;
	id[WORD_LBA28] = (uint16_t)lba28;
	id[WORD_LBA28 + 1] = (uint16_t)(lba28 >> 16);
	id[WORD_MWDMA] = 0x0007 | selected(d, 4); /* multiword DMA 0-2 */
	id[WORD_PIO] = 0x0003;			  /* PIO 3 and 4 */
	id[65] = id[66] = id[67] = id[68] = 120;  /* cycle times, ns */
	id[WORD_VERSION] = VERSIONS_3_TO_6;
	id[WORD_CMDSET] = CMDSET_WCACHE;
	id[WORD_CMDSET + 1] = CMDSET_ONE | CMDSET_FLUSH_EXT | CMDSET_FLUSH | CMDSET_LBA48;
	id[WORD_CMDSET + 2] = CMDSET_ONE;
	id[WORD_CMDSET + 3] = d->wcache ? CMDSET_WCACHE : 0;
	id[WORD_CMDSET + 4] = CMDSET_FLUSH_EXT | CMDSET_FLUSH | CMDSET_LBA48;
	id[WORD_CMDSET + 5] = CMDSET_ONE;
	id[WORD_UDMA] = 0x003f | selected(d, 8); /* Ultra DMA 0-5 */
	/* Hardware reset result: bit 14 one, an 80-conductor cable, how this device answered. */
	id[WORD_RESET] = 0x6000 | (unit ? 0x0100 : 0x0001);
	for (unsigned i = 0; i < 4; i++)
		id[WORD_LBA48 + i] = (uint16_t)(d->sectors >> (16 * i));
	/* Integrity word: the signature, and a checksum making all 512 bytes sum to 0 mod 256. */
	uint8_t sum = INTEGRITY_SIG;
	for (unsigned i = 0; i < WORD_INTEGRITY; i++)
		sum = (uint8_t)(sum + (id[i] & 0xff) + (id[i] >> 8));
	id[WORD_INTEGRITY] = (uint16_t)((uint8_t)-sum << 8 | INTEGRITY_SIG);
}
