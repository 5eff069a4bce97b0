/* SPDX-License-Identifier: MIT */
/*
 * The core's side of the seed paper's optimisations: the transmit-demand doorbell's meaning,
 * interrupt coalescing, and the pure timing decisions the glue's send combining and the tests
 * use. Free of KVM: the glue (pcnet_pci.c) registers the ioeventfds and the coalesced zone.
 *
 * Design note: the doorbell and RAP.
 * With opt=tdmd, KVM swallows a 16-bit write of 0x0048 (INEA|TDMD, what Linux's pcnet32 and
 * the guest's driver write to send) or 0x0008 (TDMD alone, polled drivers) to RDP and signals
 * an eventfd, whatever RAP holds; the write meant CSR0 only if RAP was 0. With opt=rap the RAP
 * writes wait in the coalesced ring, and the ring and an eventfd keep no order between them:
 * when vmmon reads a doorbell it cannot tell where among the RAP writes the guest rang it.
 * What is known (coalesce.c drains, reads the doorbells, drains again): a doorbell read now
 * met a RAP value that RAP had at the previous read, or one written since; db_cand collects
 * whether any of those was 0 and whether any was not.
 *  - All were 0: the writes were CSR0 writes, exactly, whatever their order against the RAP
 *    writes (a CSR0 write of 0x48 or 0x08 and a RAP write commute) and against the exits
 *    (an exit on the PCnet's ports reads the doorbells first, so INEA changes where the guest
 *    changed it). The steady state of pcnet32 and of our driver: each CSR0 access writes RAP=0
 *    first, and our interrupt service restores the RAP it found.
 *  - Some were not 0 (pcnet32 leaves RAP at 3 or 112 after reading its masks or the missed
 *    frame count, then sends with RAP=0, RDP=0x48): ambiguous. If RAP was 0 at one of those
 *    points the write is applied as the CSR0 write, else to CSR[RAP]; the doorbell stays
 *    armed and the read is counted (doorbells_ambiguous). It is wrong only for a driver that
 *    writes 0x0048 or 0x0008 to another CSR while the chip runs with no exit between that and
 *    a RAP=0: while running only CSR3, CSR4, CSR5 and test registers take writes, and drivers
 *    write those with other values (masks with bits 8-14, 0x0915, SPND or LTINTEN). Safe
 *    either way: it is an RDP write like any other, through the same register core, and no
 *    exactness of the model would let a guest reach outside its RAM.
 *  - Both values in one read: their order is unknown; they are applied in the order that
 *    leaves INEA as it was (a possible order), and the read counts as ambiguous.
 * The doorbell is armed only while the chip runs (STRT without STOP), told by the register
 * write or reset that starts or stops it (an exit): initialisation, where CSR1 and CSR2 get an
 * address whose halves may well be 0x0048, happens with it disarmed, and what RAP saw then is
 * forgotten when the chip starts.
 */
#include "pcnet.h"

#include "host/util.h"

static uint64_t now(const struct pcnet *p)
{
	return p->ops && p->ops->now ? p->ops->now(p->ctx) : host_now_ns();
}

bool pcnet_coalesce_due(uint64_t since_ns, uint64_t now_ns, uint64_t frames, uint64_t delay_ns,
			unsigned max)
{
	return frames >= max || now_ns - since_ns >= delay_ns;
}

bool pcnet_combine_due(unsigned pending, uint64_t first_ns, uint64_t now_ns, unsigned max,
		       uint64_t tick_ns)
{
	return pending >= max || now_ns - first_ns >= tick_ns;
}

/* ------------------------------------------------------------ the doorbell ------------------ */

enum { CAND_ZERO = 1, CAND_NZ = 2 }; /* db_cand, rap_cand: RAP values a doorbell may have met */

static unsigned cand(const struct pcnet *p)
{
	return p->rap ? CAND_NZ : CAND_ZERO;
}

void pcnet_rap_written(struct pcnet *p)
{
	p->rap_cand |= cand(p);
	if (p->db_window)
		p->db_cand |= cand(p); /* drained after the read: maybe before a doorbell read */
}

void pcnet_run_check(struct pcnet *p)
{
	bool run = (p->csr[0] & PCNET_CSR0_STRT) && !(p->csr[0] & PCNET_CSR0_STOP);
	if (run == p->running)
		return;
	p->running = run;
	if (run)
		p->rap_cand = cand(p); /* what came before was written with the doorbell off */
	if (p->ops && p->ops->run_state)
		p->ops->run_state(p->ctx, run);
}

void pcnet_db_begin(struct pcnet *p)
{
	pthread_mutex_lock(&p->lock);
	p->db_window = true;
	p->db_cand = p->rap_cand | cand(p);
	p->rap_cand = cand(p);
	pthread_mutex_unlock(&p->lock);
}

enum pcnet_db_result pcnet_db_apply(struct pcnet *p, const uint16_t *val, const uint64_t *count,
				    unsigned n)
{
	uint64_t total = 0;
	unsigned kinds = 0;
	for (unsigned i = 0; i < n; i++) {
		total += count[i];
		kinds += count[i] != 0;
	}
	pthread_mutex_lock(&p->lock);
	p->db_window = false;
	enum pcnet_db_result r = PCNET_DB_NONE;
	if (total) {
		r = p->db_cand == CAND_ZERO && kinds == 1 ? PCNET_DB_EXACT : PCNET_DB_AMBIGUOUS;
		p->stats.doorbells += total;
		p->stats.doorbells_ambiguous += r == PCNET_DB_AMBIGUOUS;
		unsigned reg = p->db_cand & CAND_ZERO ? 0 : p->rap;
		/* Repeating a write of the same value to the same CSR changes nothing more: once
		 * per value is the whole effect. Two values: the one that keeps INEA as it was
		 * goes last. */
		bool inea = p->csr[0] & PCNET_CSR0_INEA;
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned i = 0; i < n; i++)
				if (count[i] && (!(val[i] & PCNET_CSR0_INEA) == !inea) == pass)
					pcnet_csr_write_locked(p, reg, val[i]);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* ------------------------------------------------------------ interrupt coalescing ---------- */

void pcnet_set_coalesce(struct pcnet *p, uint64_t delay_ns, unsigned max)
{
	pthread_mutex_lock(&p->lock);
	p->coalesce_ns = delay_ns;
	p->coalesce_max = max;
	pthread_mutex_unlock(&p->lock);
}

/*
 * Whether a rise of the line waits. Only a rise that frames moved on the I/O thread asked for
 * (TINT or RINT alone) starts a hold: errors, IDON, the user interrupt and a driver's own
 * register writes (INEA set again at the end of its service) raise at once. A held rise goes
 * once pcnet_coalesce_due says so, at the latest when the glue's timer calls
 * pcnet_irq_release; a register write meanwhile leaves it held, and a driver that clears the
 * cause (reads and acknowledges CSR0 while polling) ends it.
 */
bool pcnet_irq_hold_locked(struct pcnet *p, bool level, bool only_data)
{
	if (!level || p->irq_level) {
		if (p->held) /* the driver took the cause away: count afresh */
			p->irq_frames = p->stats.tx_frames + p->stats.rx_frames;
		p->held = false;
		return false;
	}
	if (!p->coalesce_ns || !(p->held || (p->data_path && only_data)))
		return false;
	uint64_t t = now(p), frames = p->stats.tx_frames + p->stats.rx_frames - p->irq_frames;
	if (!p->held) {
		if (frames >= p->coalesce_max)
			return false; /* a burst: at once */
		p->held = true;
		p->hold_since = t;
		p->stats.irq_holds++;
		p->ops->irq_hold(p->ctx, p->coalesce_ns);
		return true;
	}
	if (!pcnet_coalesce_due(p->hold_since, t, frames, p->coalesce_ns, p->coalesce_max))
		return true;
	p->held = false;
	return false;
}

void pcnet_irq_release(struct pcnet *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->held) {
		uint64_t t = now(p), end = p->hold_since + p->coalesce_ns;
		if (t >= end) {
			p->held = false;
			pcnet_update_irq(p);
		} else {
			p->ops->irq_hold(p->ctx, end - t); /* woken early: the rest */
		}
	}
	pthread_mutex_unlock(&p->lock);
}
