/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci, modern only (virtio 1.2, 4.1), on KVM. The registers are decoded by the core in
 * pci_regs.c; this is its glue: BAR 0 and BAR 1 as traps on the MMIO bus wherever the guest
 * puts them, each queue's notification address an ioeventfd (the kick never reaches vmmon's
 * userspace) and each MSI-X vector an irqfd with its own GSI route (neither does the
 * interrupt). Without MSI-X the device falls back to INTx through the ISR.
 */
#ifndef VMMON_VIRTIO_PCI_H
#define VMMON_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"
#include "../irq.h"
#include "device.h"
#include "pci_regs.h"

struct vmm_irq_routes;

/* What the transport needs from the VM. */
struct vmm_virtio_host {
	int vm_fd;
	struct vmm_bus *mmio;
	struct vmm_irq_routes *routes;
	bool ioeventfd_any_length; /* KVM_CAP_IOEVENTFD_ANY_LENGTH */
};

struct vmm_virtio_pci {
	struct vmm_vpci regs; /* regs.pci is the function plugged into the PCI host */
	const struct vmm_virtio_host *host;
	/* Where the BARs are live on the MMIO bus (0: not mapped). */
	uint64_t bar0, bar1;
	bool ioeventfds; /* registered for bar0 */
};

/* Sets up the PCI function for dev (see vmm_vpci_init). BARs are placed at bar0/bar1 (already
 * assigned, as firmware would) but decode only once the guest enables memory space. */
int vmm_virtio_pci_init(struct vmm_virtio_pci *vp, struct vmm_virtio_dev *dev,
			const struct vmm_virtio_host *host, struct vmm_irq intx, uint64_t bar0,
			uint64_t bar1);
void vmm_virtio_pci_destroy(struct vmm_virtio_pci *vp);

#endif
