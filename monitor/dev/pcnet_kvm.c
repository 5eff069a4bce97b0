/* SPDX-License-Identifier: MIT */
/*
 * The PCnet glue's KVM side of the optimisations (pcnet_pci.h): the coalesced zones that follow
 * BAR0 (opt=rap) and the transmit-demand doorbells on RDP (opt=tdmd). What a doorbell means
 * is the core's (pcnet_opt.c); when it is read is the coalesce module's.
 *
 * Locks: zones move from the PCI host's config write (its lock held); the ioeventfds are
 * (un)registered under db_lock, a leaf taken from the core's run_state (core lock held), from
 * a config write, and from a doorbell's apply (drain lock held). KVM's ioctls take none of
 * vmmon's locks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/util.h"
#include "pcnet_pci.h"

/* The datamatched RDP writes, in db.fd order: pcnet32's send (INEA|TDMD) and a polled one. */
static const uint16_t db_val[PCNET_PCI_DB_VALUES] = {PCNET_CSR0_INEA | PCNET_CSR0_TDMD,
						     PCNET_CSR0_TDMD};

/* Writes with no effect until a later access reads them (datasheet, I/O resources): the PROM
 * (written only while BCR2 APROMWE, then only latched) and, in word I/O, RAP and RESET (a
 * write to RESET does nothing; a read resets, and reads exit). */
static const struct {
	uint16_t off, size;
} zones[] = {{0, PCNET_APROM_SIZE}, {PCNET_WIO_RAP, 4}};

void pcnet_pci_zones_move(struct pcnet_pci *n, uint16_t base)
{
	if (!(n->opt & VMM_PCNET_OPT_RAP) || base == n->zone_base)
		return;
	for (unsigned i = 0; n->zone_base && i < sizeof(zones) / sizeof(zones[0]); i++)
		vmm_coalesce_zone(n->coalesce, n->zone_base + zones[i].off, zones[i].size, false);
	n->zone_base = 0;
	for (unsigned i = 0; base && i < sizeof(zones) / sizeof(zones[0]); i++) {
		int ret = vmm_coalesce_zone(n->coalesce, base + zones[i].off, zones[i].size, true);
		if (ret) {
			fprintf(stderr,
				"vmmon: pcnet on tap %s: cannot coalesce writes at port 0x%x: %s; "
				"opt=rap is off\n",
				n->tap.opts.name, base + zones[i].off, strerror(-ret));
			while (i--)
				vmm_coalesce_zone(n->coalesce, base + zones[i].off, zones[i].size,
						  false);
			n->opt &= ~VMM_PCNET_OPT_RAP;
			return;
		}
	}
	n->zone_base = base;
}

static int ioeventfd(struct pcnet_pci *n, unsigned i, uint16_t port, bool assign)
{
	return vmm_coalesce_ioeventfd(n->coalesce, port, 2, db_val[i], n->db.fd[i], assign);
}

/* db_lock held: the ioeventfds where they should be now. */
static void db_place(struct pcnet_pci *n)
{
	uint16_t want = 0;
	if ((n->opt & VMM_PCNET_OPT_TDMD) && !n->db_off && n->running && n->io_base)
		want = n->io_base + PCNET_RDP;
	if (want == n->db_port)
		return;
	for (unsigned i = 0; n->db_port && i < PCNET_PCI_DB_VALUES; i++)
		ioeventfd(n, i, n->db_port, false);
	n->db_port = 0;
	for (unsigned i = 0; want && i < PCNET_PCI_DB_VALUES; i++) {
		int ret = ioeventfd(n, i, want, true);
		if (ret) {
			fprintf(stderr,
				"vmmon: pcnet on tap %s: cannot register the transmit doorbell: %s; "
				"opt=tdmd is off\n",
				n->tap.opts.name, strerror(-ret));
			while (i--)
				ioeventfd(n, i, want, false);
			n->db_off = true;
			return;
		}
	}
	n->db_port = want;
}

void pcnet_pci_db_update(struct pcnet_pci *n, int running, int io_base)
{
	if (!n->db_lock_ready) {
		if (io_base >= 0)
			n->io_base = (uint16_t)io_base;
		return;
	}
	pthread_mutex_lock(&n->db_lock);
	if (running >= 0)
		n->running = running;
	if (io_base >= 0) {
		n->io_base = (uint16_t)io_base;
		/* An exit on the BAR applies the doorbells first (coalesce.c). */
		atomic_store(&n->db.range[0].lo, n->io_base);
		atomic_store(&n->db.range[0].hi, n->io_base ? n->io_base + PCNET_IO_SIZE : 0);
	}
	db_place(n);
	pthread_mutex_unlock(&n->db_lock);
}

/* Drain lock held: the doorbells are about to be read. */
static void db_begin(void *ctx)
{
	struct pcnet_pci *n = ctx;
	pcnet_db_begin(&n->core);
}

/* Drain lock held, the ring drained: what the doorbells read stand for. */
static void db_apply(void *ctx, const uint64_t count[VMM_DOORBELL_FDS])
{
	struct pcnet_pci *n = ctx;
	pcnet_db_apply(&n->core, db_val, count, n->db.nfd);
	/* On the I/O thread the demand it made is served here (a vCPU's went by the kick). */
	if (vmm_io_on_thread(n->io) && n->kick_local)
		pcnet_pci_demand(n, 0);
}

/* I/O thread: a doorbell is readable. Every device's are read and applied, in order with the
 * ring. */
static void db_fired(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct pcnet_db_event *e = container_of(ev, struct pcnet_db_event, ev);
	vmm_coalesce_sync(e->n->coalesce, VMM_COALESCE_ANY_PORT);
}

int pcnet_pci_db_init(struct pcnet_pci *n, struct host_err *err)
{
	n->db.nfd = PCNET_PCI_DB_VALUES;
	for (unsigned i = 0; i < VMM_DOORBELL_FDS; i++)
		n->db.fd[i] = -1;
	if (!(n->opt & VMM_PCNET_OPT_TDMD))
		return 0;
	pthread_mutex_init(&n->db_lock, NULL);
	n->db_lock_ready = true;
	n->db.begin = db_begin;
	n->db.apply = db_apply;
	n->db.ctx = n;
	for (unsigned i = 0; i < PCNET_PCI_DB_VALUES; i++) {
		n->db.fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->db.fd[i] < 0)
			return host_err_set(err, errno, "--net tap=%s,model=pcnet: eventfd: %s",
					    n->tap.opts.name, strerror(errno));
		n->db_ev[i] = (struct pcnet_db_event){
			.ev = {.fn = db_fired, .fd = n->db.fd[i], .poll = true}, .n = n};
		if (vmm_io_add_event(n->io, &n->db_ev[i].ev))
			return host_err_set(err, ENOSPC,
					    "--net tap=%s,model=pcnet: too many I/O events",
					    n->tap.opts.name);
	}
	atomic_store(&n->db.armed, true);
	if (vmm_coalesce_add_doorbell(n->coalesce, &n->db))
		return host_err_set(err, ENOSPC, "--net tap=%s,model=pcnet: too many doorbells",
				    n->tap.opts.name);
	return 0;
}

void pcnet_pci_kvm_destroy(struct pcnet_pci *n)
{
	if (n->db_lock_ready) {
		pthread_mutex_lock(&n->db_lock);
		n->db_off = true;
		db_place(n);
		pthread_mutex_unlock(&n->db_lock);
		pthread_mutex_destroy(&n->db_lock);
		n->db_lock_ready = false;
	}
	for (unsigned i = 0; i < PCNET_PCI_DB_VALUES; i++) {
		if (n->db.fd[i] >= 0)
			close(n->db.fd[i]);
		n->db.fd[i] = -1;
	}
	pcnet_pci_zones_move(n, 0);
}
