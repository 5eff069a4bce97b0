/* SPDX-License-Identifier: MIT */
/*
 * The PCnet buffer management unit: the initialization block, the transmit ring (frames
 * gathered from chained buffers, STP to ENP) and the receive ring (frames scattered over
 * buffers), in the 32-bit structures of SWSTYLE 2 and 3 and the 16-bit ones of SWSTYLE 0.
 *
 * Ordering. A driver fills a descriptor, issues a write barrier, then sets OWN in the
 * descriptor's status word; it reads the other words only after it sees OWN clear again. So
 * the chip reads a status word first and the rest after an acquire that pairs with the
 * driver's barrier, and writes everything else (received bytes, the message count, error
 * words) before it releases the status word with OWN clear. The start-of-packet descriptor of
 * a frame is handed back last, so a driver that waits on it sees the whole frame.
 *
 * Bounds. A frame takes at most one lap of its ring, a run of the transmitter at most one lap
 * of descriptors, and a frame at most PCNET_MAX_FRAME bytes (plus pad and FCS received): a
 * guest's ring, however it is filled, costs bounded work and never reaches host memory.
 */
#include "pcnet.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "barrier.h"

/* TMD1 bits the chip rewrites after a transmit: ERR, MORE (LTINT on input), ONE, DEF. */
#define TMD1_RESULT 0x5c000000u
#define RMD1_MATCH  (PCNET_RMD1_PAM | PCNET_RMD1_LAFM | PCNET_RMD1_BAM)

/* A descriptor as read, in the 32-bit layout whatever the style. */
struct desc {
	uint32_t addr;	/* buffer address, all 32 bits */
	uint32_t flags; /* RMD1/TMD1: status in 31:16, ONES and BCNT in 15:0 */
};

static unsigned desc_size(const struct pcnet *p)
{
	return pcnet_ssize32(p) ? 16 : 8;
}

/* 16-bit structures hold 24-bit addresses; CSR2's upper byte supplies bits 31:24. */
static uint32_t high_byte(const struct pcnet *p)
{
	return (uint32_t)(p->csr[2] & 0xff00) << 16;
}

static unsigned next(unsigned i, unsigned len)
{
	return i + 1 < len ? i + 1 : 0;
}

/* The buffer length a descriptor gives: BCNT is its two's complement; 0 stands for 4096. */
static uint16_t bcnt(const struct desc *d)
{
	return (uint16_t)(4096 - (d->flags & PCNET_DESC_BCNT));
}

/* ------------------------------------------------------------ memory ----------------------------
 */

/* Guest memory as the chip reaches it: only while it may master the bus, only inside RAM. */
static uint8_t *dma_ptr(struct pcnet *p, uint64_t gpa, uint64_t len)
{
	return p->bus_master ? gmem_ptr(p->mem, gpa, len) : NULL;
}

static int dma_read(struct pcnet *p, uint64_t gpa, void *dst, uint64_t len)
{
	return p->bus_master ? gmem_read(p->mem, gpa, dst, len) : -EFAULT;
}

static int dma_write(struct pcnet *p, uint64_t gpa, const void *src, uint64_t len)
{
	return p->bus_master ? gmem_write(p->mem, gpa, src, len) : -EFAULT;
}

/* A memory error: MERR, and the unit that met it (TXON or RXON) stops until the next STRT. */
static void merr(struct pcnet *p, uint16_t unit)
{
	p->csr[0] = (uint16_t)((p->csr[0] | PCNET_CSR0_MERR) & ~unit);
	p->stats.merr++;
}

static int desc_read(struct pcnet *p, uint64_t gpa, struct desc *d)
{
	uint8_t *h = dma_ptr(p, gpa, desc_size(p));
	if (!h)
		return -EFAULT;
	if (pcnet_ssize32(p)) {
		/* The status half of word 1 first (pairs with the driver's barrier before OWN). */
		uint16_t st = le16toh(vq_load_acquire((uint16_t *)(h + 6)));
		uint32_t w[3];
		memcpy(w, h, sizeof(w));
		/* SWSTYLE 3 swaps words 0 and 2: the buffer address is word 2. */
		d->addr = le32toh(pcnet_swstyle(p) == 3 ? w[2] : w[0]);
		d->flags = (uint32_t)st << 16 | (le32toh(w[1]) & 0xffff);
	} else {
		uint8_t st = vq_load_acquire(h + 3);
		uint16_t w[3];
		memcpy(w, h, sizeof(w));
		d->addr = le16toh(w[0]) | (uint32_t)h[2] << 16 | high_byte(p);
		d->flags = (uint32_t)st << 24 | le16toh(w[2]);
	}
	return 0;
}

/* Hands a descriptor back: its third word (the message count or the transmit errors, in the
 * 32-bit layout) if `put_misc`, then the status (bits 31:16 of flags), released. */
static void desc_put(struct pcnet *p, uint64_t gpa, uint32_t status, bool put_misc, uint32_t misc,
		     bool rx)
{
	uint8_t *h = dma_ptr(p, gpa, desc_size(p));
	if (!h)
		return; /* it was read a moment ago under the same lock: cannot happen */
	if (pcnet_ssize32(p)) {
		if (put_misc) {
			uint32_t m = htole32(misc);
			memcpy(h + (pcnet_swstyle(p) == 3 ? 0 : 8), &m, 4);
		}
		/* Everything above is visible before OWN goes to the driver (pairs with the
		 * driver's read barrier after it sees OWN clear). */
		vq_store_release((uint16_t *)(h + 6), htole16((uint16_t)(status >> 16)));
	} else {
		if (put_misc) {
			/* RMD3 holds MCNT; TMD3 the upper half of TMD2 (BUFF, UFLO, ...). */
			uint16_t m = htole16((uint16_t)(rx ? misc & PCNET_RMD2_MCNT : misc >> 16));
			memcpy(h + 6, &m, 2);
		}
		vq_store_release(h + 3, (uint8_t)(status >> 24));
	}
}

static uint64_t tx_gpa(const struct pcnet *p, unsigned i)
{
	return (uint64_t)p->tx_base + (uint64_t)i * desc_size(p);
}

static uint64_t rx_gpa(const struct pcnet *p, unsigned i)
{
	return (uint64_t)p->rx_base + (uint64_t)i * desc_size(p);
}

/* ------------------------------------------------------------ INIT ------------------------------
 */

static uint32_t get32(const uint8_t *b)
{
	uint32_t v;
	memcpy(&v, b, 4);
	return le32toh(v);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

/* A ring length encoded as a power of two; the 32-bit block's 4 bits mean 512 above 9. */
static unsigned ring_len(unsigned log2)
{
	return 1u << (log2 > 9 ? 9 : log2);
}

int pcnet_ring_init(struct pcnet *p)
{
	uint8_t b[28];
	bool s32 = pcnet_ssize32(p);
	uint64_t iadr = (uint32_t)p->csr[2] << 16 | p->csr[1];
	if (dma_read(p, iadr, b, s32 ? 28 : 24)) {
		merr(p, 0); /* nothing started: no IDON, the chip stays as it was */
		return -EFAULT;
	}
	/* 32-bit block: MODE, RLEN and TLEN in the upper nibbles of bytes 2 and 3, PADR at 4,
	 * LADRF at 12, RDRA at 20, TDRA at 24. 16-bit block: MODE, PADR at 2, LADRF at 8, and
	 * RDRA and TDRA at 16 and 20 with the lengths in their top 3 bits. */
	unsigned padr = s32 ? 4 : 2, ladrf = s32 ? 12 : 8, rlen, tlen;
	uint32_t rdra, tdra;
	if (s32) {
		rlen = b[2] >> 4;
		tlen = b[3] >> 4;
		rdra = get32(b + 20);
		tdra = get32(b + 24);
	} else {
		uint32_t r = get32(b + 16), t = get32(b + 20);
		rlen = r >> 29;
		tlen = t >> 29;
		rdra = (r & 0xffffff) | high_byte(p);
		tdra = (t & 0xffffff) | high_byte(p);
	}
	p->csr[15] = get16(b);
	for (unsigned i = 0; i < 3; i++)
		p->csr[12 + i] = get16(b + padr + 2 * (size_t)i);
	for (unsigned i = 0; i < 4; i++)
		p->csr[8 + i] = get16(b + ladrf + 2 * (size_t)i);
	p->csr[6] = (uint16_t)((tlen & 0xf) << 12 | (rlen & 0xf) << 8);
	/* Descriptors are aligned to their size; the chip ignores the low address bits. */
	p->rx_base = rdra & ~(desc_size(p) - 1);
	p->tx_base = tdra & ~(desc_size(p) - 1);
	p->rx_len = ring_len(rlen);
	p->tx_len = ring_len(tlen);
	p->rx_cur = p->tx_cur = 0;
	p->csr[0] = (uint16_t)((p->csr[0] & ~PCNET_CSR0_STOP) | PCNET_CSR0_INIT | PCNET_CSR0_IDON);
	return 0;
}

/* ------------------------------------------------------------ transmit --------------------------
 */

/* Gives back the n descriptors of a frame from tx_cur, the start-of-packet one last; the last
 * one carries `errs` (TMD2 bits) and ERR if there are any. */
static void tx_release(struct pcnet *p, unsigned n, uint32_t errs)
{
	for (unsigned k = n; k-- > 0;) {
		uint32_t st = p->seg[k].flags & ~(PCNET_DESC_OWN | TMD1_RESULT);
		bool last = k == n - 1;
		if (last && errs)
			st |= PCNET_DESC_ERR;
		desc_put(p, tx_gpa(p, (p->tx_cur + k) % p->tx_len), st, last && errs, errs, false);
	}
}

static void tx_done(struct pcnet *p, unsigned n, uint32_t last_flags, bool ok)
{
	p->tx_cur = (p->tx_cur + n) % p->tx_len;
	/* TOKINTD keeps successful transmits from interrupting, but for a frame whose last
	 * descriptor asks for it (LTINT) when LTINTEN allows that. Errors always do. */
	bool quiet = ok && (p->csr[5] & PCNET_CSR5_TOKINTD) &&
		     !((p->csr[5] & PCNET_CSR5_LTINTEN) && (last_flags & PCNET_TMD1_LTINT));
	if (!quiet)
		p->csr[0] |= PCNET_CSR0_TINT;
}

/* Walks the chain from tx_cur (its first descriptor, d, is owned and has STP) into p->seg.
 * Returns how many descriptors it holds; *ended: an ENP closed it. 0 on a memory error. */
static unsigned tx_chain(struct pcnet *p, struct desc d, size_t *len, bool *ended)
{
	unsigned n = 0, idx = p->tx_cur;
	*len = 0;
	*ended = false;
	for (;;) {
		p->seg[n++] = (struct pcnet_seg){.addr = d.addr, .flags = d.flags, .len = bcnt(&d)};
		*len += bcnt(&d);
		if (d.flags & PCNET_DESC_ENP) {
			*ended = true;
			return n;
		}
		if (n == p->tx_len)
			return n; /* a whole lap without ENP */
		idx = next(idx, p->tx_len);
		if (desc_read(p, tx_gpa(p, idx), &d)) {
			merr(p, PCNET_CSR0_TXON);
			return 0;
		}
		/* The chain breaks where the chip does not own the next buffer, or where a new
		 * frame starts before this one ended. */
		if (!(d.flags & PCNET_DESC_OWN) || (d.flags & PCNET_DESC_STP))
			return n;
	}
}

/* Transmits the frame at tx_cur, or skips a descriptor. Returns how many descriptors it
 * consumed; 0 when the ring holds nothing for the chip, the transmitter stopped, or the frame
 * must wait for room (TDMD stays set then). */
static unsigned tx_frame(struct pcnet *p)
{
	struct desc d;
	if (desc_read(p, tx_gpa(p, p->tx_cur), &d)) {
		merr(p, PCNET_CSR0_TXON);
		return 0;
	}
	if (!(d.flags & PCNET_DESC_OWN))
		return 0;
	if (!(d.flags & PCNET_DESC_STP)) {
		/* Datasheet, TMD1 STP: the chip skips a descriptor without STP and polls on. */
		p->tx_cur = next(p->tx_cur, p->tx_len);
		return 1;
	}
	size_t len;
	bool ended;
	unsigned n = tx_chain(p, d, &len, &ended);
	if (!n)
		return 0;
	uint32_t last = p->seg[n - 1].flags;
	if (!ended) {
		/* Out of buffers mid-frame: nothing is sent; BUFF and UFLO (the FIFO ran dry) on
		 * the last descriptor taken. Unless DXSUFLO, the transmitter turns off. */
		tx_release(p, n, PCNET_TMD2_BUFF | PCNET_TMD2_UFLO);
		tx_done(p, n, last, false);
		p->stats.tx_errors++;
		if (p->csr[3] & PCNET_CSR3_DXSUFLO)
			return n;
		p->csr[0] &= (uint16_t)~PCNET_CSR0_TXON;
		return 0;
	}
	if (len > PCNET_MAX_FRAME) {
		/* Longer than any legal frame: babble. Not sent; the descriptors go back. */
		tx_release(p, n, 0);
		tx_done(p, n, last, false);
		p->csr[0] |= PCNET_CSR0_BABL;
		p->stats.tx_errors++;
		return n;
	}
	size_t off = 0;
	for (unsigned k = 0; k < n; k++) {
		if (dma_read(p, p->seg[k].addr, p->frame + off, p->seg[k].len)) {
			merr(p, PCNET_CSR0_TXON); /* the descriptors stay the chip's */
			return 0;
		}
		off += p->seg[k].len;
	}
	if (len < PCNET_MIN_FRAME && (p->csr[4] & PCNET_CSR4_APAD_XMT)) {
		memset(p->frame + len, 0, PCNET_MIN_FRAME - len);
		len = PCNET_MIN_FRAME;
	}
	if (p->ops->tx(p->ctx, p->frame, len) == -EAGAIN) {
		p->csr[0] |= PCNET_CSR0_TDMD; /* still wanted: the next run takes it */
		p->stats.tx_stalls++;
		return 0;
	}
	tx_release(p, n, 0);
	tx_done(p, n, last, true);
	p->csr[4] |= PCNET_CSR4_TXSTRT;
	p->stats.tx_frames++;
	return n;
}

void pcnet_tx_locked(struct pcnet *p)
{
	bool demand = p->csr[0] & PCNET_CSR0_TDMD;
	p->csr[0] &= (uint16_t)~PCNET_CSR0_TDMD;
	if (!(p->csr[0] & PCNET_CSR0_TXON) || (p->csr[5] & PCNET_CSR5_SPND))
		return;
	if (!demand && (p->csr[4] & PCNET_CSR4_DPOLL))
		return;
	/* One lap at most: a guest that keeps refilling the ring gets the next run. */
	for (unsigned budget = p->tx_len; budget;) {
		unsigned n = tx_frame(p);
		if (!n)
			break;
		budget = n < budget ? budget - n : 0;
	}
}

/* Interrupts that frames moved here ask for may wait (interrupt coalescing, pcnet_opt.c). */
void pcnet_tx_run(struct pcnet *p)
{
	pthread_mutex_lock(&p->lock);
	p->data_path = true;
	pcnet_tx_locked(p);
	pcnet_update_irq(p);
	p->data_path = false;
	pthread_mutex_unlock(&p->lock);
}

void pcnet_tdmd(struct pcnet *p, uint16_t csr0)
{
	pthread_mutex_lock(&p->lock);
	pcnet_csr0_write(p, csr0);
	p->data_path = true;
	pcnet_tx_locked(p);
	pcnet_update_irq(p);
	p->data_path = false;
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------ receive ---------------------------
 */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* IEEE 802.3 CRC-32, bit-reversed (polynomial 0xEDB88320), one table step per byte. */
static void crc_table_make(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (unsigned k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & -(c & 1));
		crc_table[i] = c;
	}
}

/* The CRC register after the bytes, from all ones, not inverted. */
static uint32_t crc32_le(const uint8_t *b, size_t n)
{
	pthread_once(&crc_once, crc_table_make);
	uint32_t c = 0xffffffffu;
	while (n--)
		c = c >> 8 ^ crc_table[(c ^ *b++) & 0xff];
	return c;
}

/* Address match (datasheet, receive address match): promiscuous; the station address unless
 * DRCVPA; broadcast unless DRCVBC; a multicast address whose CRC's top 6 bits select a set bit
 * of the logical address filter. *match: the RMD1 bit that says which. */
static bool rx_accept(const struct pcnet *p, const uint8_t *dst, uint32_t *match)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint16_t mode = p->csr[15];
	*match = 0;
	if (mode & PCNET_MODE_PROM)
		return true;
	uint8_t padr[6];
	for (unsigned i = 0; i < 3; i++) {
		padr[2 * (size_t)i] = (uint8_t)p->csr[12 + i];
		padr[2 * i + 1] = (uint8_t)(p->csr[12 + i] >> 8);
	}
	if (!(mode & PCNET_MODE_DRCVPA) && !memcmp(dst, padr, 6)) {
		*match = PCNET_RMD1_PAM;
		return true;
	}
	if (!memcmp(dst, bcast, 6) && !(mode & PCNET_MODE_DRCVBC)) {
		*match = PCNET_RMD1_BAM;
		return true;
	}
	if (dst[0] & 1) {
		unsigned h = crc32_le(dst, 6) >> 26;
		if (p->csr[8 + h / 16] & (1u << (h % 16))) {
			*match = PCNET_RMD1_LAFM;
			return true;
		}
	}
	return false;
}

/* Gives back the k descriptors of a frame from rx_cur, the start-of-packet one (STP) last; the
 * last one carries `last_status` and, with ENP, the message count. */
static void rx_release(struct pcnet *p, unsigned k, uint32_t last_status, uint32_t mcnt)
{
	for (unsigned j = k; j-- > 0;) {
		uint32_t st = j == 0 ? PCNET_DESC_STP : 0; /* OWN and every error bit clear */
		bool last = j == k - 1;
		if (last)
			st |= last_status;
		desc_put(p, rx_gpa(p, (p->rx_cur + j) % p->rx_len), st,
			 last && (last_status & PCNET_DESC_ENP), mcnt, true);
	}
	p->rx_cur = (p->rx_cur + k) % p->rx_len;
	p->csr[0] |= PCNET_CSR0_RINT;
}

/* Puts p->frame (n bytes, FCS included) into the ring at rx_cur. */
static enum pcnet_rx_result rx_store(struct pcnet *p, size_t n, uint32_t match)
{
	struct desc d;
	if (desc_read(p, rx_gpa(p, p->rx_cur), &d)) {
		merr(p, PCNET_CSR0_RXON);
		return PCNET_RX_MERR;
	}
	if (!(d.flags & PCNET_DESC_OWN)) {
		/* No buffer: the frame is missed and counted (CSR112; MFCO when it wraps). */
		p->csr[0] |= PCNET_CSR0_MISS;
		if (++p->csr[112] == 0)
			p->csr[4] |= PCNET_CSR4_MFCO;
		p->stats.rx_missed++;
		return PCNET_RX_MISSED;
	}
	unsigned k = 0, idx = p->rx_cur;
	size_t done = 0;
	for (;;) {
		size_t cnt = n - done < bcnt(&d) ? n - done : bcnt(&d);
		/* The bytes go in as the ring is walked; a buffer outside RAM stops the receiver
		 * with nothing handed back. */
		if (dma_write(p, d.addr, p->frame + done, cnt)) {
			merr(p, PCNET_CSR0_RXON);
			return PCNET_RX_MERR;
		}
		done += cnt;
		k++;
		if (done == n)
			break;
		idx = next(idx, p->rx_len);
		if (k == p->rx_len) {
			d.flags = 0; /* a whole lap: the first buffer is taken already */
		} else if (desc_read(p, rx_gpa(p, idx), &d)) {
			merr(p, PCNET_CSR0_RXON);
			return PCNET_RX_MERR;
		}
		if (!(d.flags & PCNET_DESC_OWN)) {
			/* Out of buffers while chaining: BUFF on the last one taken, no ENP. */
			rx_release(p, k, PCNET_DESC_ERR | PCNET_RMD1_BUFF, 0);
			p->stats.rx_errors++;
			return PCNET_RX_BUFF;
		}
	}
	/* The match bits exist only in the 32-bit structures. */
	uint32_t st = PCNET_DESC_ENP | (pcnet_ssize32(p) ? match : 0);
	rx_release(p, k, st, (uint32_t)n);
	p->stats.rx_frames++;
	return PCNET_RX_DELIVERED;
}

static enum pcnet_rx_result rx_locked(struct pcnet *p, const uint8_t *frame, size_t len)
{
	if (!(p->csr[0] & PCNET_CSR0_RXON) || (p->csr[5] & PCNET_CSR5_SPND)) {
		p->stats.rx_dropped++;
		return PCNET_RX_OFF;
	}
	if (len > PCNET_MAX_FRAME) {
		p->stats.rx_dropped++;
		return PCNET_RX_TOO_LONG;
	}
	/* As the wire delivers it: padded to the minimum length, then the FCS, which the message
	 * count includes and drivers strip. */
	size_t n = len < PCNET_MIN_FRAME ? PCNET_MIN_FRAME : len;
	memcpy(p->frame, frame, len);
	memset(p->frame + len, 0, n - len);
	uint32_t match;
	if (!rx_accept(p, p->frame, &match)) {
		p->stats.rx_dropped++;
		return PCNET_RX_FILTERED;
	}
	uint32_t fcs = htole32(~crc32_le(p->frame, n));
	memcpy(p->frame + n, &fcs, PCNET_FCS);
	return rx_store(p, n + PCNET_FCS, match);
}

enum pcnet_rx_result pcnet_rx(struct pcnet *p, const uint8_t *frame, size_t len)
{
	pthread_mutex_lock(&p->lock);
	p->data_path = true;
	enum pcnet_rx_result r = rx_locked(p, frame, len);
	pcnet_update_irq(p);
	p->data_path = false;
	pthread_mutex_unlock(&p->lock);
	return r;
}
