/* SPDX-License-Identifier: MIT */
/*
 * The PCnet register core: the I/O map in both access modes, the address PROM, CSRs and BCRs,
 * resets, INIT/STRT/STOP and the interrupt line. The rings are pcnet_ring.c's.
 */
#include "pcnet.h"

#include <errno.h>
#include <string.h>

#define CSR0_W1C                                                                                   \
	(PCNET_CSR0_BABL | PCNET_CSR0_CERR | PCNET_CSR0_MISS | PCNET_CSR0_MERR | PCNET_CSR0_RINT | \
	 PCNET_CSR0_TINT | PCNET_CSR0_IDON)
#define CSR0_ERRORS (PCNET_CSR0_BABL | PCNET_CSR0_CERR | PCNET_CSR0_MISS | PCNET_CSR0_MERR)
/* The CSR0 flags that interrupt, each unless its CSR3 mask bit (same position) is set. CERR
 * sets ERR but never interrupts. */
#define CSR0_SOURCES                                                                               \
	(PCNET_CSR0_BABL | PCNET_CSR0_MISS | PCNET_CSR0_MERR | PCNET_CSR0_RINT | PCNET_CSR0_TINT | \
	 PCNET_CSR0_IDON)
/* CSR4: JAB, TXSTRT, RCVCCO, MFCO are cleared by writing 1; each has its mask one bit below. */
#define CSR4_W1C   0x026a
#define CSR4_MASKS 0x0115
/* CSR5: MPINT, EXDINT, SLPINT, SINT are cleared by writing 1; each has its enable one below. */
#define CSR5_W1C     0x0a90
#define CSR5_ENABLES 0x0548

enum {
	IMPL = 1u << 0,	   /* the register exists */
	STOPPED = 1u << 1, /* writable only while STOP (CSR0) or SPND (CSR5) is set */
	SPECIAL = 1u << 2, /* read or written by code below, not by the mask */
};

struct reg_def {
	uint16_t reset, wmask;
	uint8_t flags;
};

/* The CSRs the model implements: values after S_RESET (datasheet, register descriptions) and
 * the bits a write changes. */
static const struct reg_def csr_def[PCNET_NR_CSR] = {
	[0] = {PCNET_CSR0_STOP, 0, IMPL | SPECIAL},
	[1] = {0, 0xffff, IMPL | STOPPED}, /* IADR[15:0] */
	[2] = {0, 0xffff, IMPL | STOPPED}, /* IADR[31:16] */
	[3] = {0, 0x5f7c, IMPL},	   /* masks, deferral control */
	[4] = {0x0115, 0xfd15, IMPL | SPECIAL},
	[5] = {0, 0xc56f, IMPL | SPECIAL},
	[6] = {0, 0, IMPL},		    /* TLEN, RLEN as INIT read them */
	[8] = {0, 0xffff, IMPL | STOPPED},  /* LADRF */
	[9] = {0, 0xffff, IMPL | STOPPED},  /* ... */
	[10] = {0, 0xffff, IMPL | STOPPED}, /* ... */
	[11] = {0, 0xffff, IMPL | STOPPED}, /* ... */
	[12] = {0, 0xffff, IMPL | STOPPED}, /* PADR */
	[13] = {0, 0xffff, IMPL | STOPPED}, /* ... */
	[14] = {0, 0xffff, IMPL | STOPPED}, /* ... */
	[15] = {0, 0xffff, IMPL | STOPPED}, /* MODE */
	[16] = {0, 0, IMPL | SPECIAL},	    /* IADR aliases */
	[17] = {0, 0, IMPL | SPECIAL},
	[24] = {0, 0, IMPL | SPECIAL}, /* BADR: receive ring base */
	[25] = {0, 0, IMPL | SPECIAL},
	[30] = {0, 0, IMPL | SPECIAL}, /* BADX: transmit ring base */
	[31] = {0, 0, IMPL | SPECIAL},
	[58] = {0, 0, IMPL | SPECIAL}, /* software style: BCR20 */
	[72] = {0, 0, IMPL | SPECIAL}, /* RCVRC, XMTRC: ring counters */
	[74] = {0, 0, IMPL | SPECIAL},
	[76] = {0, 0, IMPL | SPECIAL}, /* RCVRL, XMTRL: ring lengths */
	[78] = {0, 0, IMPL | SPECIAL},
	[80] = {0x1410, 0x3fff, IMPL | STOPPED}, /* DMA transfer counter, FIFO thresholds */
	[82] = {0, 0xffff, IMPL},		 /* bus activity timer */
	[88] = {0, 0, IMPL | SPECIAL},		 /* chip ID */
	[89] = {0, 0, IMPL | SPECIAL},
	[100] = {0x0200, 0xffff, IMPL},	     /* bus timeout */
	[112] = {0, 0xffff, IMPL | STOPPED}, /* missed frame count */
	[114] = {0, 0xffff, IMPL | STOPPED}, /* receive collision count */
	[122] = {0, 0x0001, IMPL},	     /* receive frame alignment */
	[124] = {0, 0x0018, IMPL},	     /* test register 1 (GPSIEN, ...) */
};

/* The BCRs, with their values after H_RESET (S_RESET leaves them, but for BCR20). */
static const struct reg_def bcr_def[PCNET_NR_BCR] = {
	[0] = {0x0005, 0, IMPL}, /* reserved, read only */
	[1] = {0x0005, 0, IMPL},
	[PCNET_BCR_MC] = {0x0002, 0xffff, IMPL}, /* ASEL */
	[PCNET_BCR_LNKST] = {0x00c0, 0x7fff, IMPL},
	[5] = {0x0084, 0x7fff, IMPL}, /* LED1 */
	[6] = {0x0088, 0x7fff, IMPL}, /* LED2 */
	[7] = {0x0090, 0x7fff, IMPL}, /* LED3 */
	[PCNET_BCR_FDC] = {0, 0x0007, IMPL},
	[PCNET_BCR_BSBC] = {0x9001, 0xff7f, IMPL}, /* DWIO (bit 7) reads the access mode */
	[19] = {0, 0x0017, IMPL},		   /* EEPROM control: no EEPROM (PVALID 0) */
	[PCNET_BCR_SWS] = {PCNET_BCR20_CSRPCNET, 0, IMPL | STOPPED | SPECIAL},
	[22] = {0xff06, 0xffff, IMPL}, /* PCI latency */
};

static bool stopped(const struct pcnet *p)
{
	return (p->csr[0] & PCNET_CSR0_STOP) || (p->csr[5] & PCNET_CSR5_SPND);
}

bool pcnet_ssize32(const struct pcnet *p)
{
	return p->bcr[PCNET_BCR_SWS] & PCNET_BCR20_SSIZE32;
}

unsigned pcnet_swstyle(const struct pcnet *p)
{
	return p->bcr[PCNET_BCR_SWS] & 0xff;
}

void pcnet_update_irq(struct pcnet *p)
{
	uint16_t c0 = p->csr[0], c4 = p->csr[4], c5 = p->csr[5];
	uint16_t data = PCNET_CSR0_TINT | PCNET_CSR0_RINT;
	bool other = (c0 & ~p->csr[3] & CSR0_SOURCES & ~data) || ((c4 >> 1) & ~c4 & CSR4_MASKS) ||
		     (c4 & PCNET_CSR4_UINT) || ((c5 >> 1) & c5 & CSR5_ENABLES);
	bool intr = other || (c0 & ~p->csr[3] & data);
	p->csr[0] = intr ? c0 | PCNET_CSR0_INTR : c0 & ~PCNET_CSR0_INTR;
	bool level = intr && (c0 & PCNET_CSR0_INEA);
	if (pcnet_irq_hold_locked(p, level, !other) || level == p->irq_level)
		return;
	if (level)
		p->irq_frames = p->stats.tx_frames + p->stats.rx_frames;
	p->irq_level = level;
	p->stats.irqs += level;
	vmm_irq_set(&p->irq, level);
}

/* The address PROM: the station address, the hardware ID, a checksum over bytes 0-11 and
 * 14-15, and the 'W' 'W' signature. */
static void aprom_build(struct pcnet *p)
{
	uint8_t *a = p->aprom;
	memset(a, 0, PCNET_APROM_SIZE);
	memcpy(a, p->mac, 6);
	a[9] = PCNET_APROM_HW_ID;
	a[14] = a[15] = PCNET_APROM_SIG;
	uint16_t sum = 0;
	for (unsigned i = 0; i < PCNET_APROM_SIZE; i++)
		if (i != 12 && i != 13)
			sum = (uint16_t)(sum + a[i]);
	a[12] = (uint8_t)sum;
	a[13] = (uint8_t)(sum >> 8);
}

/* S_RESET (a read of RESET): CSRs to their reset values, the station address reloaded from the
 * PROM, software style 0. BCRs and the access mode stay (only H_RESET leaves DWIO). */
static void s_reset(struct pcnet *p)
{
	uint16_t iadr1 = p->csr[1], iadr2 = p->csr[2], portsel = p->csr[15] & PCNET_MODE_PORTSEL;
	for (unsigned n = 0; n < PCNET_NR_CSR; n++)
		p->csr[n] = csr_def[n].reset;
	p->csr[1] = iadr1;
	p->csr[2] = iadr2;
	p->csr[15] = portsel;
	for (unsigned i = 0; i < 3; i++)
		p->csr[12 + i] =
			(uint16_t)(p->aprom[2 * (size_t)i] | p->aprom[2 * (size_t)i + 1] << 8);
	p->bcr[PCNET_BCR_SWS] = bcr_def[PCNET_BCR_SWS].reset;
	p->rap = 0;
	p->rx_base = p->tx_base = 0;
	p->rx_len = p->tx_len = 1;
	p->rx_cur = p->tx_cur = 0;
	pcnet_update_irq(p);
	pcnet_run_check(p);
}

static void h_reset(struct pcnet *p)
{
	for (unsigned n = 0; n < PCNET_NR_BCR; n++)
		p->bcr[n] = bcr_def[n].reset;
	p->dwio = false;
	aprom_build(p);
	s_reset(p);
}

void pcnet_init(struct pcnet *p, const uint8_t mac[6], const struct gmem *mem, struct vmm_irq irq,
		const struct pcnet_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->irq = irq;
	p->mem = mem;
	p->ops = ops;
	p->ctx = ctx;
	memcpy(p->mac, mac, 6);
	h_reset(p);
}

void pcnet_destroy(struct pcnet *p)
{
	pthread_mutex_destroy(&p->lock);
}

void pcnet_set_bus_master(struct pcnet *p, bool on)
{
	pthread_mutex_lock(&p->lock);
	p->bus_master = on;
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------ CSR0 ------------------------------
 */

static void kick(struct pcnet *p)
{
	if (p->ops && p->ops->tx_kick)
		p->ops->tx_kick(p->ctx);
}

/* STOP: everything off, every flag in CSR0 cleared but STOP. */
static void stop(struct pcnet *p)
{
	p->csr[0] = PCNET_CSR0_STOP;
	p->csr[4] &= (uint16_t) ~(CSR4_W1C | PCNET_CSR4_UINT);
	p->csr[5] &= (uint16_t)~PCNET_CSR5_SPND;
}

static void start(struct pcnet *p)
{
	p->csr[0] = (uint16_t)((p->csr[0] & ~PCNET_CSR0_STOP) | PCNET_CSR0_STRT);
	if (!(p->csr[15] & PCNET_MODE_DTX))
		p->csr[0] |= PCNET_CSR0_TXON;
	if (!(p->csr[15] & PCNET_MODE_DRX))
		p->csr[0] |= PCNET_CSR0_RXON;
	kick(p); /* the transmitter polls its ring as it starts */
}

void pcnet_csr0_write(struct pcnet *p, uint16_t val)
{
	p->csr[0] &= (uint16_t) ~(val & CSR0_W1C);
	if (val & PCNET_CSR0_STOP) {
		stop(p); /* STOP wins over INIT and STRT in the same write */
		return;
	}
	p->csr[0] = (uint16_t)((p->csr[0] & ~PCNET_CSR0_INEA) | (val & PCNET_CSR0_INEA));
	bool ok = true;
	/* INIT and STRT act on their rising edge: set again while set, they do nothing. */
	if ((val & PCNET_CSR0_INIT) && !(p->csr[0] & PCNET_CSR0_INIT))
		ok = pcnet_ring_init(p) == 0;
	if ((val & PCNET_CSR0_STRT) && !(p->csr[0] & PCNET_CSR0_STRT) && ok)
		start(p);
	if (val & PCNET_CSR0_TDMD) {
		p->csr[0] |= PCNET_CSR0_TDMD; /* cleared when the I/O thread reads the ring */
		kick(p);
	}
}

/* ------------------------------------------------------------ CSRs and BCRs ------------------- */

static uint16_t bcr_read_locked(struct pcnet *p, unsigned n);
static void bcr_write_locked(struct pcnet *p, unsigned n, uint16_t val);

static uint16_t csr_read_locked(struct pcnet *p, unsigned n)
{
	if (n >= PCNET_NR_CSR || !(csr_def[n].flags & IMPL)) {
		p->stats.unhandled++;
		return 0xffff;
	}
	switch (n) {
	case 0:
		return p->csr[0] | (p->csr[0] & CSR0_ERRORS ? PCNET_CSR0_ERR : 0);
	case 16:
	case 17:
		return p->csr[n - 15];
	case 24:
	case 25:
		return (uint16_t)(p->rx_base >> (n == 25 ? 16 : 0));
	case 30:
	case 31:
		return (uint16_t)(p->tx_base >> (n == 31 ? 16 : 0));
	case 58:
		return p->bcr[PCNET_BCR_SWS];
	case 72: /* the ring counters count down from the ring length */
		return (uint16_t)(p->rx_len - p->rx_cur);
	case 74:
		return (uint16_t)(p->tx_len - p->tx_cur);
	case 76: /* lengths as two's complements */
		return (uint16_t)-p->rx_len;
	case 78:
		return (uint16_t)-p->tx_len;
	case 88:
		return (uint16_t)PCNET_CHIP_ID;
	case 89:
		return (uint16_t)(PCNET_CHIP_ID >> 16);
	}
	return p->csr[n];
}

void pcnet_csr_write_locked(struct pcnet *p, unsigned n, uint16_t val)
{
	if (n >= PCNET_NR_CSR || !(csr_def[n].flags & IMPL)) {
		p->stats.unhandled++;
		return;
	}
	/* Registers the datasheet makes writable only while stopped or suspended ignore writes
	 * while the chip runs. */
	if ((csr_def[n].flags & STOPPED) && !stopped(p))
		return;
	uint16_t wmask = csr_def[n].wmask;
	switch (n) {
	case 0:
		pcnet_csr0_write(p, val);
		pcnet_update_irq(p);
		pcnet_run_check(p);
		return;
	case 4:
		p->csr[4] &= (uint16_t) ~(val & CSR4_W1C);
		p->csr[4] = (uint16_t)((p->csr[4] & ~wmask) | (val & wmask));
		if (val & PCNET_CSR4_UINTCMD)
			p->csr[4] |= PCNET_CSR4_UINT; /* the user interrupt, at once */
		break;
	case 5: {
		bool resumed = (p->csr[5] & PCNET_CSR5_SPND) && !(val & PCNET_CSR5_SPND);
		p->csr[5] &= (uint16_t) ~(val & CSR5_W1C);
		p->csr[5] = (uint16_t)((p->csr[5] & ~wmask) | (val & wmask));
		if (resumed)
			kick(p);
		break;
	}
	case 16:
	case 17:
		pcnet_csr_write_locked(p, n - 15, val);
		return;
	case 58:
		bcr_write_locked(p, PCNET_BCR_SWS, val);
		break;
	default:
		p->csr[n] = (uint16_t)((p->csr[n] & ~wmask) | (val & wmask));
	}
	pcnet_update_irq(p);
}

static uint16_t bcr_read_locked(struct pcnet *p, unsigned n)
{
	if (n >= PCNET_NR_BCR || !(bcr_def[n].flags & IMPL)) {
		p->stats.unhandled++;
		return 0xffff;
	}
	uint16_t v = p->bcr[n];
	if (n >= PCNET_BCR_LNKST && n <= PCNET_BCR_LNKST + 3) {
		/* LEDOUT is the OR of the signals the LED is enabled for; of them only the link
		 * status is lasting, and the link is always up. */
		v = (uint16_t)((v & ~PCNET_LED_OUT) | (v & PCNET_LED_LNKSTE ? PCNET_LED_OUT : 0));
	} else if (n == PCNET_BCR_BSBC) {
		v = (uint16_t)((v & ~PCNET_BCR18_DWIO) | (p->dwio ? PCNET_BCR18_DWIO : 0));
	}
	return v;
}

/* SWSTYLE: 0 (16-bit LANCE structures), 2 and 3 (32-bit PCnet-PCI structures, 3 with words 0
 * and 2 of each descriptor swapped). SSIZE32 and CSRPCNET follow from it. ILACC (1) and the
 * reserved values are not modelled: they select style 0, as a reset does. */
static void sws_write(struct pcnet *p, uint16_t val)
{
	unsigned style = val & 0xff;
	if (style == 2 || style == 3)
		p->bcr[PCNET_BCR_SWS] =
			(uint16_t)(style | PCNET_BCR20_SSIZE32 | PCNET_BCR20_CSRPCNET);
	else
		p->bcr[PCNET_BCR_SWS] = PCNET_BCR20_CSRPCNET;
}

static void bcr_write_locked(struct pcnet *p, unsigned n, uint16_t val)
{
	if (n >= PCNET_NR_BCR || !(bcr_def[n].flags & IMPL)) {
		p->stats.unhandled++;
		return;
	}
	if ((bcr_def[n].flags & STOPPED) && !stopped(p))
		return;
	if (n == PCNET_BCR_SWS)
		sws_write(p, val);
	else
		p->bcr[n] = (uint16_t)((p->bcr[n] & ~bcr_def[n].wmask) | (val & bcr_def[n].wmask));
}

uint16_t pcnet_csr_read(struct pcnet *p, unsigned n)
{
	pthread_mutex_lock(&p->lock);
	uint16_t v = csr_read_locked(p, n);
	pthread_mutex_unlock(&p->lock);
	return v;
}

void pcnet_csr_write(struct pcnet *p, unsigned n, uint16_t val)
{
	pthread_mutex_lock(&p->lock);
	pcnet_csr_write_locked(p, n, val);
	pthread_mutex_unlock(&p->lock);
}

uint16_t pcnet_bcr_read(struct pcnet *p, unsigned n)
{
	pthread_mutex_lock(&p->lock);
	uint16_t v = bcr_read_locked(p, n);
	pthread_mutex_unlock(&p->lock);
	return v;
}

void pcnet_bcr_write(struct pcnet *p, unsigned n, uint16_t val)
{
	pthread_mutex_lock(&p->lock);
	bcr_write_locked(p, n, val);
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------ the I/O map --------------------- */

/* The PROM reads at any width; writes reach it only while BCR2 APROMWE allows them. */
static int aprom_access(struct pcnet *p, unsigned off, uint32_t *val, unsigned len, bool is_write)
{
	if (is_write) {
		if (p->bcr[PCNET_BCR_MC] & PCNET_BCR2_APROMWE)
			memcpy(p->aprom + off, val, len);
		return 0;
	}
	memcpy(val, p->aprom + off, len);
	return 0;
}

enum { RDP, RAP, RESET, BDP };

/* RDP, RAP, RESET and BDP: 16-bit ports 2 bytes apart in WIO mode, 32-bit ports 4 bytes apart in
 * DWIO mode (their upper halves written as zeros and read as zeros); other widths are refused. */
static int reg_access(struct pcnet *p, unsigned off, uint32_t *val, unsigned len, bool is_write)
{
	if (!p->dwio && len == 4 && off == PCNET_RDP && is_write)
		p->dwio = true; /* a DWord write to RDP selects DWIO; it is an RDP write as well */
	unsigned width = p->dwio ? 4 : 2;
	if (len != width || off % width)
		return -EINVAL;
	unsigned reg = (off - PCNET_RDP) / width;
	if (!is_write)
		*val = 0;
	switch (reg) {
	case RDP:
		if (is_write)
			pcnet_csr_write_locked(p, p->rap, (uint16_t)*val);
		else
			*val = csr_read_locked(p, p->rap);
		return 0;
	case RAP:
		/* A plain store: nothing happens until RDP or BDP is accessed. */
		if (is_write) {
			p->rap = (uint16_t)(*val & 0xff);
			pcnet_rap_written(p);
		} else {
			*val = p->rap;
		}
		return 0;
	case RESET:
		if (!is_write)
			s_reset(p); /* reading resets; writing does nothing */
		return 0;
	case BDP:
		if (is_write)
			bcr_write_locked(p, p->rap, (uint16_t)*val);
		else
			*val = bcr_read_locked(p, p->rap);
		return 0;
	}
	return -EINVAL;
}

int pcnet_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pcnet *p = dev;
	if (off >= PCNET_IO_SIZE || len == 0 || len > 4 || len > PCNET_IO_SIZE - off ||
	    (off < PCNET_APROM_SIZE && len > PCNET_APROM_SIZE - off))
		return -EINVAL;
	uint32_t val = 0;
	if (is_write)
		memcpy(&val, data, len);
	pthread_mutex_lock(&p->lock);
	int ret = off < PCNET_APROM_SIZE ? aprom_access(p, (unsigned)off, &val, len, is_write)
					 : reg_access(p, (unsigned)off, &val, len, is_write);
	if (ret)
		p->stats.unhandled++;
	pthread_mutex_unlock(&p->lock);
	if (!is_write && !ret)
		memcpy(data, &val, len);
	return ret;
}

struct pcnet_stats pcnet_stats(struct pcnet *p)
{
	pthread_mutex_lock(&p->lock);
	struct pcnet_stats s = p->stats;
	pthread_mutex_unlock(&p->lock);
	return s;
}
