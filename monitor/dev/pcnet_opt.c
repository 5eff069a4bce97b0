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
 * writes wait in the coalesced ring, so when vmmon reads a doorbell it cannot tell where among
 * the drained RAP writes the guest rang it. What is known: the doorbell's RAP is the value RAP
 * had at the previous read of the doorbells, or one the guest wrote since (the sync reads the
 * doorbells, then drains the ring: every RAP write before them is applied, later ones may be,
 * coalesce.c). rap_nz remembers whether any of those candidates was not 0.
 *  - All were 0 (rap_nz clear): the writes were CSR0 writes. Exact, whatever their order
 *    against the RAP writes: a CSR0 write of 0x48 or 0x08 and a RAP write commute, and the
 *    sync applies both before it handles the exit that follows them (an exit on the PCnet's
 *    ports reads the doorbells first), so INEA changes where the guest made it change.
 *    This is the steady state of pcnet32 and of our driver: each CSR0 access writes RAP=0
 *    first, and the interrupt service restores the RAP it found.
 *  - Some were not 0: the write may have been meant for another CSR (CSR1 or CSR2 holding an
 *    initialization block address with a half 0x0048 is the case that happens). vmmon then
 *    applies it to CSR[RAP], the register the guest selected last, and reports
 *    PCNET_DB_GUESSED; the glue disarms the doorbell for good, warns once, and every later
 *    RDP write exits: exact from then on. Safe: the write goes through the same register
 *    core as any RDP write (a wrong register gets a legal value, nothing outside the model is
 *    touched), and at most the writes of one sync are guessed.
 * The doorbell is armed only while the chip runs (STRT without STOP), and run_state comes
 * from the register write that starts or stops it (an exit): initialization, where CSR1, CSR2
 * and the mode registers get their values, happens with it disarmed. Two different values
 * in one sync (a driver switching between interrupts and polling with no exit between its
 * doorbells) also count as a guess: their order is unknown.
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

void pcnet_rap_written(struct pcnet *p)
{
	if (!p->rap)
		return;
	p->rap_nz = true;
	if (p->db_window)
		p->db_check = true; /* drained after the read: maybe before a doorbell read */
}

void pcnet_run_check(struct pcnet *p)
{
	bool run = (p->csr[0] & PCNET_CSR0_STRT) && !(p->csr[0] & PCNET_CSR0_STOP);
	if (run == p->running)
		return;
	p->running = run;
	if (run)
		p->rap_nz = p->rap != 0; /* what came before was written with the doorbell off */
	if (p->ops && p->ops->run_state)
		p->ops->run_state(p->ctx, run);
}

void pcnet_db_begin(struct pcnet *p)
{
	pthread_mutex_lock(&p->lock);
	p->db_window = true;
	p->db_check = p->rap_nz;
	p->rap_nz = p->rap != 0;
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
		r = p->db_check || kinds > 1 ? PCNET_DB_GUESSED : PCNET_DB_EXACT;
		p->stats.doorbells += total;
		if (r == PCNET_DB_GUESSED)
			p->stats.doorbells_guessed += total;
		/* Repeating a write of the same value to the same CSR changes nothing more: once
		 * per value is the whole effect. */
		for (unsigned i = 0; i < n; i++)
			if (count[i])
				pcnet_csr_write_locked(p, r == PCNET_DB_EXACT ? 0 : p->rap, val[i]);
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
