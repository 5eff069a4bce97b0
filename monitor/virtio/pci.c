/* SPDX-License-Identifier: MIT */
#include "pci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../irq_route.h"
#include "host/util.h"

static struct vmm_virtio_pci *of(struct vmm_vpci *regs)
{
	return container_of(regs, struct vmm_virtio_pci, regs);
}

/* ------------------------------------------------------------ BARs on the bus ----------------- */

static int bar0_trap(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct vmm_virtio_pci *vp = opaque;
	__atomic_fetch_add(&vp->regs.dev->exits, 1, __ATOMIC_RELAXED);
	return vmm_vpci_bar0_access(&vp->regs, off, data, len, is_write);
}

static int bar1_trap(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct vmm_virtio_pci *vp = opaque;
	__atomic_fetch_add(&vp->regs.dev->exits, 1, __ATOMIC_RELAXED);
	return vmm_vpci_bar1_access(&vp->regs, off, data, len, is_write);
}

static void set_ioeventfds(struct vmm_virtio_pci *vp, bool on)
{
	struct vmm_virtio_dev *d = vp->regs.dev;
	if (vp->ioeventfds == on)
		return;
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct kvm_ioeventfd ev = {
			.addr = vp->bar0 + VPCI_NOTIFY_OFF + (uint64_t)i * VPCI_NOTIFY_MULT,
			.len = vp->host->ioeventfd_any_length ? 0 : 2,
			.fd = d->q[i].kick.fd,
			.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};
		if (ioctl(vp->host->vm_fd, KVM_IOEVENTFD, &ev) < 0 && on)
			fprintf(stderr,
				"vmmon: %s: no ioeventfd for queue %u (%s): kicks will exit\n",
				d->ops->name, i, strerror(errno));
	}
	vp->ioeventfds = on;
}

/* Moves BAR n's trap to where the guest programmed it, or removes it while memory decoding is
 * off (the guest sizing BARs) or the BAR is unassigned. */
static void map_bar(struct vmm_virtio_pci *vp, unsigned n, uint64_t *cur, uint64_t size,
		    vmm_trap_fn fn, bool decode)
{
	uint64_t want = pci_dev_bar_addr(&vp->regs.pci, n);
	if (!decode || want == 0 || want + size > 1ull << 32)
		want = 0;
	if (want == *cur)
		return;
	if (*cur) {
		if (n == 0)
			set_ioeventfds(vp, false);
		vmm_bus_unregister(vp->host->mmio, *cur);
		*cur = 0;
	}
	if (want &&
	    vmm_bus_register(vp->host->mmio, want, size, fn, vp, vp->regs.dev->ops->name) == 0) {
		*cur = want;
		if (n == 0)
			set_ioeventfds(vp, true);
	}
}

static void remap(struct vmm_vpci *regs)
{
	struct vmm_virtio_pci *vp = of(regs);
	uint16_t command;
	memcpy(&command, &regs->pci.cfg[PCI_COMMAND], 2);
	bool decode = command & PCI_COMMAND_MEMORY;
	map_bar(vp, 0, &vp->bar0, VPCI_BAR0_SIZE, bar0_trap, decode);
	map_bar(vp, 1, &vp->bar1, VPCI_BAR1_SIZE, bar1_trap, decode);
}

/* A notification that trapped lands in the same eventfd as the ioeventfd's, one exit dearer. */
static void kick(struct vmm_vpci *regs, unsigned qi)
{
	host_signal(regs->dev->q[qi].kick.fd);
}

static void msi(struct vmm_vpci *regs, unsigned v)
{
	msix_signal(&regs->msix, v);
}

static const struct vmm_vpci_ops kvm_ops = {.remap = remap, .kick = kick, .msi = msi};

/* ------------------------------------------------------------ MSI-X routing ------------------- */

static int msix_gsi_alloc(void *ctx)
{
	struct vmm_virtio_pci *vp = ctx;
	return vmm_irq_route_msi_alloc(vp->host->routes);
}

static int msix_route_set(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct vmm_virtio_pci *vp = ctx;
	return vmm_irq_route_msi_set(vp->host->routes, gsi, true, addr, data);
}

static int msix_irqfd(void *ctx, int efd, unsigned gsi, bool attach)
{
	struct vmm_virtio_pci *vp = ctx;
	return vmm_irqfd(vp->host->vm_fd, efd, gsi, attach);
}

static const struct msix_ops kvm_msix_ops = {
	.gsi_alloc = msix_gsi_alloc,
	.route_set = msix_route_set,
	.irqfd = msix_irqfd,
};

int vmm_virtio_pci_init(struct vmm_virtio_pci *vp, struct vmm_virtio_dev *dev,
			const struct vmm_virtio_host *host, struct vmm_irq intx, uint64_t bar0,
			uint64_t bar1)
{
	memset(vp, 0, sizeof(*vp));
	vp->host = host;
	int ret = vmm_vpci_init(&vp->regs, dev, &kvm_ops, intx, &kvm_msix_ops, vp);
	if (ret)
		return ret;
	/* Pre-assigned addresses, as firmware leaves them; decoding waits for the guest. */
	uint32_t lo0 = (uint32_t)bar0, lo1 = (uint32_t)bar1;
	memcpy(&vp->regs.pci.cfg[PCI_BASE_ADDRESS_0], &lo0, 4);
	memcpy(&vp->regs.pci.cfg[PCI_BASE_ADDRESS_1], &lo1, 4);
	return 0;
}

void vmm_virtio_pci_destroy(struct vmm_virtio_pci *vp)
{
	if (vp->bar0) {
		set_ioeventfds(vp, false);
		vmm_bus_unregister(vp->host->mmio, vp->bar0);
	}
	if (vp->bar1)
		vmm_bus_unregister(vp->host->mmio, vp->bar1);
	vmm_vpci_destroy(&vp->regs);
}
