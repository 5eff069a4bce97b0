/* SPDX-License-Identifier: MIT */
#include "devices.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ids.h>

#include "dev/ata/piix.h"
#include "dev/pcnet_pci.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "vhost_user/frontend.h"
#include "vm.h"

#define IO_RING_ENTRIES 1024

unsigned vmm_pci_intx_pin(unsigned slot)
{
	return VMM_PCI_INTX_FIRST + slot % VMM_PCI_INTX_PINS;
}

static uint64_t alloc_bar(struct vmm_devices *devs, uint64_t size)
{
	uint64_t at = (devs->next_bar + size - 1) & ~(size - 1); /* BARs are size-aligned */
	if (at + size > VMM_MMIO_WINDOW)
		return 0;
	devs->next_bar = at + size;
	return at;
}

/* An I/O BAR's port, as firmware would assign it; 0 when the window is full. */
static uint16_t alloc_io_bar(struct vmm_devices *devs, uint32_t size)
{
	uint32_t at = (devs->next_io_bar + size - 1) & ~(size - 1);
	if (at + size > PCI_IO_WINDOW_END)
		return 0;
	devs->next_io_bar = at + size;
	return (uint16_t)at;
}

static int plug_pci(struct vmm_vm *vm, struct vmm_virtio_slot *s, struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	uint64_t bar0 = alloc_bar(devs, VPCI_BAR0_SIZE), bar1 = alloc_bar(devs, VPCI_BAR1_SIZE);
	s->pci = calloc(1, sizeof(*s->pci));
	if (!s->pci || !bar0 || !bar1)
		return host_err_set(err, ENOSPC, "too many PCI devices for the MMIO window");
	struct vmm_irq intx = {.set = vmm_vm_set_irq, .ctx = vm};
	int ret = vmm_virtio_pci_init(s->pci, s->vdev, &devs->host, intx, bar0, bar1);
	if (ret)
		return host_err_set(err, -ret, "%s: PCI setup failed: %s", s->vdev->ops->name,
				    strerror(-ret));
	int slot = pci_host_add(&vm->plat.pci, &s->pci->regs.pci, -1);
	if (slot < 0)
		return host_err_set(err, -slot, "no free PCI slot for %s", s->vdev->ops->name);
	/* The INTx pin depends on the slot, known only now. */
	s->pci->regs.intx.gsi = vmm_pci_intx_pin((unsigned)slot);
	s->pci->regs.pci.cfg[PCI_INTERRUPT_LINE] = (uint8_t)s->pci->regs.intx.gsi;
	return 0;
}

/* ISA interrupts no legacy device of ours uses: one per virtio-mmio device, edge-triggered. */
static const unsigned mmio_gsi[] = {5, 6, 7, 9, 10, 11, 12};

static int plug_mmio(struct vmm_vm *vm, struct vmm_virtio_slot *s, struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	unsigned i = devs->nr_mmio;
	if (i == sizeof(mmio_gsi) / sizeof(mmio_gsi[0]))
		return host_err_set(err, ENOSPC, "at most %zu virtio-mmio devices",
				    sizeof(mmio_gsi) / sizeof(mmio_gsi[0]));
	s->mmio = calloc(1, sizeof(*s->mmio));
	if (!s->mmio)
		return host_err_set(err, ENOMEM, "out of memory");
	int ret = vmm_virtio_mmio_init(s->mmio, s->vdev, &devs->host,
				       VMM_MMIO_WINDOW + i * 0x1000ull, mmio_gsi[i]);
	if (ret)
		return host_err_set(err, -ret, "%s: virtio-mmio setup failed: %s",
				    s->vdev->ops->name, strerror(-ret));
	devs->nr_mmio++;
	size_t used = strlen(devs->cmdline);
	if (vmm_virtio_mmio_cmdline(s->mmio, devs->cmdline + used, sizeof(devs->cmdline) - used))
		return host_err_set(err, ENOSPC,
				    "too many virtio-mmio devices for the command line");
	return 0;
}

static int add(struct vmm_vm *vm, struct vmm_virtio_dev *vdev, void *model, void (*destroy)(void *),
	       enum vmm_transport transport, struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	if (devs->nr == VMM_MAX_VIRTIO) {
		destroy(model);
		return host_err_set(err, ENOSPC, "at most %d virtio devices", VMM_MAX_VIRTIO);
	}
	struct vmm_virtio_slot *s = &devs->slot[devs->nr++];
	*s = (struct vmm_virtio_slot){.vdev = vdev, .model = model, .destroy = destroy};
	return transport == VMM_TRANSPORT_MMIO ? plug_mmio(vm, s, err) : plug_pci(vm, s, err);
}

static void destroy_blk(void *model)
{
	vblk_dev_destroy(model);
	free(model);
}

static void destroy_rng(void *model)
{
	vrng_dev_destroy(model);
	free(model);
}

static void destroy_vu(void *model)
{
	vu_frontend_destroy(model);
	free(model);
}

/* vm.pause and vm.resume for the devices whose queues a back-end serves: vmmon's own parked
 * with the I/O thread; a back-end is told to stop its rings and start them again. A back-end
 * that fails to answer is taken as gone (the session waits for it to return): it takes
 * nothing either way. */
void vmm_devices_pause(struct vmm_vm *vm)
{
	for (unsigned i = 0; i < vm->devs.nr; i++)
		if (vm->devs.slot[i].destroy == destroy_vu)
			vu_frontend_pause(vm->devs.slot[i].model);
}

void vmm_devices_resume(struct vmm_vm *vm)
{
	for (unsigned i = 0; i < vm->devs.nr; i++)
		if (vm->devs.slot[i].destroy == destroy_vu)
			vu_frontend_resume(vm->devs.slot[i].model);
}

/* A device whose queues a vhost-user back-end serves. */
static int add_vhost_user(struct vmm_vm *vm, const char *path, uint32_t device_id,
			  const void *net_config, unsigned net_config_size,
			  enum vmm_transport transport, struct host_err *err)
{
	struct vu_frontend *fe = calloc(1, sizeof(*fe));
	if (!fe)
		return host_err_set(err, ENOMEM, "out of memory");
	int ret = vu_frontend_init(fe, path, device_id, net_config, net_config_size, &vm->devs.io,
				   &vm->mem, err);
	if (ret) {
		vu_frontend_destroy(fe);
		free(fe);
		return ret;
	}
	ret = add(vm, &fe->vdev, fe, destroy_vu, transport, err);
	if (!ret)
		ret = vu_frontend_start(fe);
	return ret < 0 && !err->msg[0] ? host_err_set(err, -ret, "vhost-user: %s", strerror(-ret))
				       : ret;
}

static int add_disks(struct vmm_vm *vm, struct host_err *err)
{
	for (unsigned i = 0; i < vm->cfg->nr_disks; i++) {
		const struct vmm_disk_config *dc = &vm->cfg->disks[i];
		if (dc->transport == VMM_TRANSPORT_ATA)
			continue; /* add_ata */
		if (dc->vhost_user) {
			int ret = add_vhost_user(vm, dc->vhost_user, VIRTIO_ID_BLOCK, NULL, 0,
						 dc->transport, err);
			if (ret)
				return ret;
			vm->devs.slot[vm->devs.nr - 1].disk = dc;
			continue;
		}
		struct vblk_dev *b = calloc(1, sizeof(*b));
		if (!b)
			return host_err_set(err, ENOMEM, "out of memory");
		int ret = vblk_dev_init(b, &vm->cfg->disks[i], &vm->devs.io, &vm->mem, err);
		if (ret) {
			vblk_dev_destroy(b);
			free(b);
			return ret;
		}
		ret = add(vm, &b->vdev, b, destroy_blk, vm->cfg->disks[i].transport, err);
		if (ret)
			return ret;
		vm->devs.slot[vm->devs.nr - 1].disk = dc; /* for the firmware's boot order */
	}
	return 0;
}

/*
 * The optimisations a legacy device gets: those asked for (opt=, default all) that this host's
 * KVM can do. The coalesced ones need KVM_CAP_COALESCED_PIO: asked for by name, their absence
 * is an error; by default, they are left out with one line saying so.
 */
static int usable_opts(const struct vmm_vm *vm, const char *what, const struct host_opt_set *opt,
		       unsigned coalesced, unsigned *out, struct host_err *err)
{
	*out = opt->mask;
	if (!(opt->mask & coalesced) || vm->kvm.coalesced_pio)
		return 0;
	if (opt->given)
		return host_err_set(err, ENOTSUP,
				    "%s: this host's KVM lacks KVM_CAP_COALESCED_PIO, which the "
				    "coalesced optimisations in opt= need; leave them out",
				    what);
	fprintf(stderr,
		"vmmon: %s: KVM lacks KVM_CAP_COALESCED_PIO: the coalesced optimisations are off\n",
		what);
	*out &= ~coalesced;
	return 0;
}

/* The ATA disks, in order: primary master, primary slave, secondary master, secondary slave. */
static int add_ata(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	const struct vmm_config *cfg = vm->cfg;
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		n += cfg->disks[i].transport == VMM_TRANSPORT_ATA;
	if (!n)
		return 0;
	uint16_t bm_port = alloc_io_bar(devs, PIIX_IDE_BAR_SIZE);
	devs->ide = calloc(1, sizeof(*devs->ide));
	if (!devs->ide || !bm_port)
		return host_err_set(err, ENOMEM, "no room for the IDE controller");
	int ret = piix_ide_init(devs->ide, &vm->pio, &devs->io, &vm->mem, vmm_vm_set_irq, vm,
				bm_port, vm->kvm.coalesced_pio ? &vm->coalesce : NULL, err);
	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++) {
		const struct vmm_disk_config *dc = &cfg->disks[i];
		if (dc->transport != VMM_TRANSPORT_ATA)
			continue;
		char what[80];
		snprintf(what, sizeof(what), "--disk path=%s,transport=ata", dc->blk.path);
		unsigned opt;
		ret = usable_opts(vm, what, &dc->opt, VMM_ATA_OPT_ALL, &opt, err);
		if (!ret)
			ret = piix_ide_add_disk(devs->ide, &dc->blk, opt, err);
	}
	if (ret)
		return ret;
	int slot = pci_host_add(&vm->plat.pci, &devs->ide->pci, -1);
	if (slot < 0)
		return host_err_set(err, -slot, "no free PCI slot for the IDE controller");
	return 0;
}

static void destroy_net(void *model)
{
	vnet_dev_destroy(model);
	free(model);
}

static void destroy_vcon(void *model)
{
	vcon_dev_destroy(model);
	free(model);
}

/* An AMD PCnet-PCI II on the tap: a PCI function with an I/O BAR and INTA#. */
static int add_pcnet(struct vmm_vm *vm, const struct vmm_net_config *nc, unsigned index,
		     struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	char what[64];
	snprintf(what, sizeof(what), "--net tap=%s,model=pcnet", nc->tap.name);
	unsigned opt;
	int ret = usable_opts(vm, what, &nc->opt, VMM_PCNET_OPT_RAP, &opt, err);
	if (ret)
		return ret;
	uint16_t bar = alloc_io_bar(devs, PCNET_IO_SIZE);
	struct pcnet_pci *n = calloc(1, sizeof(*n));
	if (!n || !bar) {
		free(n);
		return host_err_set(err, ENOSPC, "--net tap=%s,model=pcnet: %s", nc->tap.name,
				    n ? "no room for another I/O BAR" : "out of memory");
	}
	devs->pcnet[devs->nr_pcnet++] = n; /* destroyed with the devices, set up or not */
	struct vmm_irq intx = {.set = vmm_vm_set_irq, .ctx = vm};
	ret = pcnet_pci_init(n, nc, opt, index, &devs->io, &vm->mem, intx, bar, &vm->coalesce, err);
	if (ret)
		return ret;
	int slot = pci_host_add(&vm->plat.pci, &n->pci, -1);
	if (slot < 0)
		return host_err_set(err, -slot, "no free PCI slot for the PCnet NIC on tap %s",
				    nc->tap.name);
	/* The INTx pin depends on the slot, known only now. */
	pcnet_pci_set_intx(n, vmm_pci_intx_pin((unsigned)slot));
	return 0;
}

static int add_nets(struct vmm_vm *vm, struct host_err *err)
{
	for (unsigned i = 0; i < vm->cfg->nr_nets; i++) {
		const struct vmm_net_config *nc = &vm->cfg->nets[i];
		if (nc->model == VMM_NET_PCNET) {
			int ret = add_pcnet(vm, nc, i, err);
			if (ret)
				return ret;
			continue;
		}
		if (nc->vhost_user[0]) {
			struct virtio_net_config c;
			host_net_config(&nc->tap.mac, 1, i, &c); /* one pair over vhost-user */
			int ret = add_vhost_user(vm, nc->vhost_user, VIRTIO_ID_NET, &c, sizeof(c),
						 nc->transport, err);
			if (ret)
				return ret;
			vm->devs.slot[vm->devs.nr - 1].net = nc;
			continue;
		}
		struct vnet_dev *n = calloc(1, sizeof(*n));
		if (!n)
			return host_err_set(err, ENOMEM, "out of memory");
		int ret = vnet_dev_init(n, &vm->cfg->nets[i], i, &vm->devs.io, &vm->mem, err);
		if (ret) { /* vnet_dev_init undid its own work: nothing to destroy */
			free(n);
			return ret;
		}
		ret = add(vm, &n->vdev, n, destroy_net, vm->cfg->nets[i].transport, err);
		if (ret)
			return ret;
		vm->devs.slot[vm->devs.nr - 1].net = nc; /* for the API's counters */
	}
	return 0;
}

static int add_console(struct vmm_vm *vm, struct host_err *err)
{
	if (!vm->cfg->virtio_console)
		return 0;
	struct vcon_dev *c = calloc(1, sizeof(*c));
	if (!c)
		return host_err_set(err, ENOMEM, "out of memory");
	/* The virtio console takes stdin; COM1 keeps printing to stdout. */
	int ret = vcon_dev_init(c, STDIN_FILENO, STDOUT_FILENO, &vm->devs.io, &vm->mem);
	if (ret) {
		free(c);
		return host_err_set(err, -ret, "--console virtio: %s", strerror(-ret));
	}
	vm->con.in_fd = -1;
	return add(vm, &c->vdev, c, destroy_vcon, vm->cfg->console_transport, err);
}

static int add_rng(struct vmm_vm *vm, struct host_err *err)
{
	if (!vm->cfg->rng)
		return 0;
	struct vrng_dev *r = calloc(1, sizeof(*r));
	if (!r)
		return host_err_set(err, ENOMEM, "out of memory");
	int ret = vrng_dev_init(r, &vm->devs.io, &vm->mem);
	if (ret) {
		free(r);
		return host_err_set(err, -ret, "--rng: %s", strerror(-ret));
	}
	return add(vm, &r->vdev, r, destroy_rng, vm->cfg->rng_transport, err);
}

static void drain_ring(void *coalesce)
{
	vmm_coalesce_sync(coalesce, 0);
}

int vmm_devices_init(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	memset(devs, 0, sizeof(*devs));
	devs->next_bar = VMM_PCI_WINDOW;
	devs->next_io_bar = VMM_PCI_IO_BARS;
	if (!vm->cfg->nr_disks && !vm->cfg->nr_nets && !vm->cfg->rng && !vm->cfg->virtio_console)
		return 0; /* no I/O thread for a VM without virtio devices */
	int ret = vmm_irq_routes_init(&devs->routes, vm->fd);
	if (ret)
		return host_err_set(err, -ret, "interrupt routes: %s", strerror(-ret));
	devs->routes_ready = true;
	ret = vmm_io_init(&devs->io, IO_RING_ENTRIES, err);
	if (ret)
		return ret;
	devs->io_ready = true;
	/* Coalesced writes reach their devices before the I/O thread's work (coalesce.c). */
	devs->io.before_batch = drain_ring;
	devs->io.before_ctx = &vm->coalesce;
	devs->host = (struct vmm_virtio_host){.vm_fd = vm->fd,
					      .mmio = &vm->mmio,
					      .routes = &devs->routes,
					      .ioeventfd_any_length = vm->kvm.ioeventfd_any_length};
	ret = add_disks(vm, err);
	if (!ret)
		ret = add_nets(vm, err);
	if (!ret)
		ret = add_ata(vm, err);
	if (!ret)
		ret = add_console(vm, err);
	if (!ret)
		ret = add_rng(vm, err);
	return ret;
}

void vmm_devices_print_stats(const struct vmm_vm *vm)
{
	for (unsigned i = 0; i < vm->devs.nr; i++) {
		const struct vmm_virtio_dev *d = vm->devs.slot[i].vdev;
		uint64_t kicks = 0, early = 0, irqs = 0, bad = 0;
		if (d->ops->external_queues) {
			/* Kicks and interrupts pass between KVM and the back-end, unseen here. */
			fprintf(stderr,
				"vmmon: stats: %s %u: served by a vhost-user back-end, protocol "
				"violations %" PRIu64 "\n",
				d->ops->name, i, d->violations);
			continue;
		}
		for (unsigned k = 0; k < d->nr_queues; k++) {
			kicks += d->q[k].kicks;
			early += d->q[k].early_kicks;
			irqs += d->q[k].notifies;
			bad += d->q[k].vq.bad_chains;
		}
		fprintf(stderr,
			"vmmon: stats: %s %u: kicks %" PRIu64 " (early %" PRIu64
			"), interrupts %" PRIu64 ", bad chains %" PRIu64
			", protocol violations %" PRIu64 "\n",
			d->ops->name, i, kicks, early, irqs, bad, d->violations);
	}
	for (unsigned i = 0; i < vm->devs.nr_pcnet; i++)
		pcnet_pci_print_stats(vm->devs.pcnet[i], i);
	if (vm->devs.ide)
		piix_ide_print_stats(vm->devs.ide, stderr);
	if (vm->devs.io_ready)
		fprintf(stderr,
			"vmmon: stats: I/O thread: %" PRIu64 " loops, %" PRIu64
			" completions, %" PRIu64 " submits\n",
			vm->devs.io.batches, vm->devs.io.uring.cqes, vm->devs.io.uring.submits);
}

int vmm_devices_start(struct vmm_vm *vm)
{
	return vm->devs.io_ready ? vmm_io_start(&vm->devs.io) : 0;
}

void vmm_devices_stop(struct vmm_vm *vm)
{
	if (vm->devs.io_ready)
		vmm_io_stop(&vm->devs.io);
}

void vmm_devices_destroy(struct vmm_vm *vm)
{
	struct vmm_devices *devs = &vm->devs;
	vmm_devices_stop(vm);
	for (unsigned i = 0; i < devs->nr; i++) {
		struct vmm_virtio_slot *s = &devs->slot[i];
		if (s->pci) {
			vmm_virtio_pci_destroy(s->pci);
			free(s->pci);
		}
		if (s->mmio) {
			vmm_virtio_mmio_destroy(s->mmio);
			free(s->mmio);
		}
		s->destroy(s->model);
	}
	devs->nr = 0;
	if (devs->io_ready)
		vmm_io_destroy(&devs->io);
	/* After the I/O thread, whose exit cancelled the reads into their buffers. */
	for (unsigned i = 0; i < devs->nr_pcnet; i++) {
		pcnet_pci_destroy(devs->pcnet[i]);
		free(devs->pcnet[i]);
	}
	devs->nr_pcnet = 0;
	/* After the ring is gone: the controller's requests ran on it. */
	if (devs->ide) {
		piix_ide_destroy(devs->ide);
		free(devs->ide);
		devs->ide = NULL;
	}
	if (devs->routes_ready)
		vmm_irq_routes_destroy(&devs->routes);
	devs->io_ready = devs->routes_ready = false;
}
