/* SPDX-License-Identifier: MIT */
/*
 * The coalesced PIO ring and its doorbells.
 *
 * Design note: why the order the guest wrote in is the order devices see.
 * 1. KVM appends a write in a zone to the ring, and signals a doorbell's eventfd, while the
 *    vCPU executes the OUT instruction, before the next one. So when a vCPU exits, every
 *    coalesced write it made before is in the ring and every doorbell it rang is counted.
 * 2. vcpu.c syncs (drains) before it handles any exit, under the drain lock: the devices see
 *    the ring's writes, then the exiting access, as the guest issued them. A write that did
 *    not fit (ring full) arrives as an ordinary exit, after the drain that made room.
 * 3. The I/O thread drains before it runs completions (io/loop.c): a completion (an ATA
 *    command going from BSY to DRQ, a PCnet frame) is placed after every write the guest made
 *    before it, as the exits' path would have placed it. A write the guest made while the
 *    device was busy stays a write made while busy.
 * 4. The ring and a doorbell's eventfd are two channels: their relative order is lost. A sync
 *    drains, reads the eventfds, drains again, then applies them: every ring write that came
 *    before a doorbell it read is applied before the doorbell is, and the device sees, between
 *    its begin and apply hooks, the writes that may have come before or after (PCnet's rule
 *    for RAP, pcnet_opt.c). Reading, draining and applying happen under the one lock, so no
 *    other sync returns, and no exit is handled, between a doorbell's read and its
 *    application.
 * 5. The ring: `last` is KVM's, read with acquire (pairs with KVM's write barrier before it
 *    advances `last`); `first` is ours, advanced with release once an entry is applied (KVM
 *    reads it to find room, and may then overwrite the slot).
 * 6. A sync that finds the ring empty returns without the lock. That is safe only because a
 *    slot is handed back after its write reached the device: were `first` advanced when the
 *    entries are copied, a vCPU whose write found the ring full could see it empty while
 *    another thread still held those entries, and apply its own write before them (a PIO
 *    sector's words reordered: seen, under the sanitizer build's timing).
 * Lock order: the drain lock, then the bus's, the PCI host's and a device's (a drained write
 * goes through the bus). Nothing holding one of those may sync.
 */
#include "coalesce.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "barrier.h"

#define RUN_MAX 256 /* entries to one address handed over in one call */

static __thread bool draining;

bool vmm_coalesce_draining(void)
{
	return draining;
}

void vmm_coalesce_init(struct vmm_coalesce *c, int vm_fd, struct vmm_bus *pio, struct vmm_bus *mmio)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->vm_fd = vm_fd;
	c->pio = pio;
	c->mmio = mmio;
}

void vmm_coalesce_destroy(struct vmm_coalesce *c)
{
	pthread_mutex_destroy(&c->lock);
	c->ring = NULL;
}

void vmm_coalesce_set_ring(struct vmm_coalesce *c, void *run, int run_size, int page)
{
	long ps = sysconf(_SC_PAGESIZE);
	if (!page || ps <= 0 || (long)(page + 1) * ps > run_size)
		return;
	c->ring = (struct kvm_coalesced_mmio_ring *)((uint8_t *)run + page * ps);
	c->max = (unsigned)(((size_t)ps - sizeof(*c->ring)) / sizeof(c->ring->coalesced_mmio[0]));
}

static int kvm_ioctl(struct vmm_coalesce *c, unsigned long req, void *arg)
{
	if (c->kvm_ioctl)
		return c->kvm_ioctl(c, req, arg);
	return ioctl(c->vm_fd, req, arg) < 0 ? -errno : 0;
}

int vmm_coalesce_zone(struct vmm_coalesce *c, uint32_t port, uint32_t size, bool add)
{
	struct kvm_coalesced_mmio_zone z = {.addr = port, .size = size, .pio = 1};
	return kvm_ioctl(c, add ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO, &z);
}

int vmm_coalesce_ioeventfd(struct vmm_coalesce *c, uint32_t port, unsigned len, uint64_t val,
			   int fd, bool assign)
{
	struct kvm_ioeventfd e = {.datamatch = val,
				  .addr = port,
				  .len = len,
				  .fd = fd,
				  .flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH |
					   (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN)};
	return kvm_ioctl(c, KVM_IOEVENTFD, &e);
}

int vmm_coalesce_add_doorbell(struct vmm_coalesce *c, struct vmm_doorbell *db)
{
	unsigned n = atomic_load(&c->nr_bells);
	if (n == VMM_COALESCE_MAX_BELLS)
		return -ENOSPC;
	c->bells[n] = db;
	atomic_store(&c->nr_bells, n + 1); /* publishes bells[n] to the syncs (seq_cst) */
	return 0;
}

unsigned vmm_coalesce_ring_drain(struct kvm_coalesced_mmio_ring *ring, unsigned max,
				 vmm_coalesce_apply_fn *apply, void *ctx)
{
	uint8_t buf[RUN_MAX * sizeof(ring->coalesced_mmio[0].data)];
	unsigned done = 0;
	for (;;) {
		uint32_t first = VQ_READ_ONCE(ring->first) % max;
		/* Entries up to `last` are written (pairs with KVM's barrier before it moves it).
		 */
		uint32_t last = vq_load_acquire(&ring->last) % max;
		if (first == last)
			return done;
		const struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[first];
		uint64_t addr = VQ_READ_ONCE(e->phys_addr);
		uint32_t len = VQ_READ_ONCE(e->len);
		bool pio = VQ_READ_ONCE(e->pio) == 1;
		if (len == 0 || len > sizeof(e->data))
			len = 0; /* KVM never writes these; skip the slot rather than trust it */
		/* A run: the following entries to the same address with the same width. */
		unsigned n = 0;
		uint32_t i = first;
		do {
			const struct kvm_coalesced_mmio *x = &ring->coalesced_mmio[i];
			if (n &&
			    (VQ_READ_ONCE(x->phys_addr) != addr || VQ_READ_ONCE(x->len) != len ||
			     (VQ_READ_ONCE(x->pio) == 1) != pio))
				break;
			memcpy(buf + (size_t)n * len, x->data, len);
			n++;
			i = (i + 1) % max;
		} while (i != last && n < RUN_MAX && len);
		if (!len)
			n = 1;
		if (len)
			apply(ctx, pio, addr, buf, len, n);
		/* Only now may KVM reuse the slots (it reads `first` for room), and only now does
		 * the ring look emptier to a sync's unlocked peek: a ring that looks empty has
		 * had every write in it applied (design note, 6). */
		vq_store_release(&ring->first, i);
		done += n;
	}
}

static void bus_apply(void *ctx, bool pio, uint64_t addr, const uint8_t *data, unsigned len,
		      unsigned count)
{
	struct vmm_coalesce *c = ctx;
	/* The bus takes a mutable buffer (reads fill it); these are writes. */
	vmm_bus_access_rep(pio ? c->pio : c->mmio, addr, (uint8_t *)data, len, count, true);
}

/* Drain lock held. */
static void drain(struct vmm_coalesce *c)
{
	if (!c->ring)
		return;
	draining = true;
	unsigned n = vmm_coalesce_ring_drain(c->ring, c->max, bus_apply, c);
	draining = false;
	if (n) {
		atomic_fetch_add_explicit(&c->drains, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->entries, n, memory_order_relaxed);
	}
}

static bool ring_busy(const struct vmm_coalesce *c)
{
	/* Unlocked peek: a write the ring gets right after is the next sync's. */
	return c->ring && VQ_READ_ONCE(c->ring->first) != vq_load_acquire(&c->ring->last);
}

static bool bell_wanted(struct vmm_doorbell *db, uint32_t port)
{
	if (!port || !atomic_load(&db->armed))
		return false;
	if (port == VMM_COALESCE_ANY_PORT)
		return true;
	for (unsigned i = 0; i < VMM_DOORBELL_RANGES; i++)
		if (port >= atomic_load(&db->range[i].lo) && port < atomic_load(&db->range[i].hi))
			return true;
	return false;
}

static uint64_t read_bell(int fd)
{
	uint64_t v;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? v : 0; /* EAGAIN: none */
}

/* The counts of one doorbell's eventfds. With several, one poll finds those that were rung
 * (mostly none or one) and only they are read: a sync on a device's ports costs two system
 * calls, not one per value. A signal after the poll waits for the next sync, as one after
 * the read would. */
static void read_bells(const struct vmm_doorbell *db, uint64_t *count)
{
	struct pollfd pfd[VMM_DOORBELL_FDS];
	unsigned n = db->nfd;
	for (unsigned k = 0; k < n; k++)
		pfd[k] = (struct pollfd){.fd = db->fd[k], .events = POLLIN};
	if (n > 1 && poll(pfd, n, 0) < 0)
		for (unsigned k = 0; k < n; k++)
			pfd[k].revents = POLLIN; /* poll failed (EINTR, ENOMEM): read them all */
	for (unsigned k = 0; k < n; k++)
		count[k] = n == 1 || pfd[k].revents ? read_bell(db->fd[k]) : 0;
}

void vmm_coalesce_sync(struct vmm_coalesce *c, uint32_t port)
{
	unsigned nb = atomic_load(&c->nr_bells);
	bool want[VMM_COALESCE_MAX_BELLS] = {0}, any = false;
	for (unsigned i = 0; i < nb; i++)
		any |= want[i] = bell_wanted(c->bells[i], port);
	if (!any && !ring_busy(c))
		return;
	uint64_t count[VMM_COALESCE_MAX_BELLS][VMM_DOORBELL_FDS] = {{0}};
	pthread_mutex_lock(&c->lock);
	/* The ring, the doorbells, the ring again: see the design note (4). */
	if (any)
		drain(c);
	for (unsigned i = 0; i < nb; i++) {
		struct vmm_doorbell *db = c->bells[i];
		if (!want[i])
			continue;
		if (db->begin)
			db->begin(db->ctx);
		read_bells(db, count[i]);
		atomic_fetch_add_explicit(&c->bell_reads, 1, memory_order_relaxed);
	}
	drain(c);
	for (unsigned i = 0; i < nb; i++)
		if (want[i])
			c->bells[i]->apply(c->bells[i]->ctx, count[i]);
	pthread_mutex_unlock(&c->lock);
}
