/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci, modern only (virtio 1.2, 4.1). BAR 0 holds the common configuration, ISR, device
 * configuration and the notification area; BAR 1 holds the MSI-X table and PBA. Each queue's
 * notification address is an ioeventfd (the kick never reaches vmmon's userspace) and each
 * MSI-X vector an irqfd (neither does the interrupt). Without MSI-X the device falls back to
 * INTx through the ISR.
 */
#ifndef VMMON_VIRTIO_PCI_H
#define VMMON_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"
#include "../dev/msix.h"
#include "../dev/pci.h"
#include "../irq.h"
#include "device.h"

/* BAR 0 layout. */
#define VPCI_COMMON_OFF	 0x0000
#define VPCI_COMMON_SIZE 0x1000
#define VPCI_ISR_OFF	 0x1000
#define VPCI_ISR_SIZE	 0x1000
#define VPCI_DEVCFG_OFF	 0x2000
#define VPCI_DEVCFG_SIZE 0x1000
#define VPCI_NOTIFY_OFF	 0x3000
#define VPCI_NOTIFY_MULT 4 /* queue n notifies at VPCI_NOTIFY_OFF + 4 * n */
#define VPCI_BAR0_SIZE	 0x4000
/* BAR 1 layout. */
#define VPCI_MSIX_TABLE_OFF 0x0000
#define VPCI_MSIX_PBA_OFF   0x0800
#define VPCI_BAR1_SIZE	    0x1000
_Static_assert(VPCI_NOTIFY_MULT *VMM_VIRTIO_MAX_QUEUES <= VPCI_BAR0_SIZE - VPCI_NOTIFY_OFF,
	       "notification area holds every queue");
_Static_assert(MSIX_TABLE_SIZE(VMM_VIRTIO_MAX_QUEUES + 1) <= VPCI_MSIX_PBA_OFF, "MSI-X table fits");

/* What the transport needs from the VM. */
struct vmm_virtio_host {
	int vm_fd;
	struct vmm_bus *mmio;
	struct vmm_irq_routes *routes;
	bool ioeventfd_any_length; /* KVM_CAP_IOEVENTFD_ANY_LENGTH */
};

struct vmm_virtio_pci {
	struct pci_dev pci;
	struct vmm_virtio_dev *dev;
	const struct vmm_virtio_host *host;
	struct vmm_irq intx;
	struct msix msix;

	/* Register state not in the device core. */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint8_t isr;

	/* Where the BARs are live on the MMIO bus (0: not mapped). */
	uint64_t bar0, bar1;
	bool ioeventfds; /* registered for bar0 */
	uint64_t bad_accesses;
};

/* Sets up the PCI function for dev (IDs from its type), its capabilities and MSI-X with one
 * vector per queue plus one for configuration changes. BARs are placed at bar0/bar1 (already
 * assigned, as firmware would) but decode only once the guest enables memory space. */
int vmm_virtio_pci_init(struct vmm_virtio_pci *vp, struct vmm_virtio_dev *dev,
			const struct vmm_virtio_host *host, struct vmm_irq intx, uint64_t bar0,
			uint64_t bar1);
void vmm_virtio_pci_destroy(struct vmm_virtio_pci *vp);

#endif
