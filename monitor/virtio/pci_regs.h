/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci register core (virtio 1.2, 4.1): the PCI function's config space and
 * capability list, BAR 0 (common configuration, ISR status, device configuration, notification
 * area) and BAR 1 (MSI-X table and PBA), decoded against a struct vmm_virtio_dev. It never
 * touches KVM: moving the BARs, kicking a queue whose notification trapped and raising an MSI-X
 * vector go out through struct vmm_vpci_ops, INTx through a struct vmm_irq, and the MSI-X
 * routes and irqfds through the struct msix_ops given at init. pci.c is the KVM glue; the unit
 * tests drive this core with fakes.
 */
#ifndef VMMON_VIRTIO_PCI_REGS_H
#define VMMON_VIRTIO_PCI_REGS_H

#include <stdbool.h>
#include <stdint.h>

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
_Static_assert(VPCI_MSIX_PBA_OFF + MSIX_PBA_SIZE(VMM_VIRTIO_MAX_QUEUES + 1) <= VPCI_BAR1_SIZE,
	       "MSI-X PBA fits");

struct vmm_vpci;

/* The side effects that need KVM, done by the glue (pci.c) or a test's fake. */
struct vmm_vpci_ops {
	/* The command register or BAR 0/1 changed: move the BARs' traps and ioeventfds to where
	 * the guest put them (pci host lock held). */
	void (*remap)(struct vmm_vpci *vp);
	/* The driver wrote queue qi's notification and no ioeventfd caught it (dev lock held). */
	void (*kick)(struct vmm_vpci *vp, unsigned qi);
	/* Raise MSI-X vector v (dev lock held). */
	void (*msi)(struct vmm_vpci *vp, unsigned v);
};

struct vmm_vpci {
	struct pci_dev pci;
	struct vmm_virtio_dev *dev;
	const struct vmm_vpci_ops *ops;
	struct vmm_irq intx;
	struct msix msix;

	/* Register state not in the device core. */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint8_t isr;
	uint64_t bad_accesses; /* unhandled reads and writes, and refused widths */
};

/* Sets up the PCI function for dev (IDs from its type), its capabilities and MSI-X with one
 * vector per queue plus one for configuration changes, and makes vp dev's transport. BAR
 * addresses are left 0. Returns 0 or -errno. */
int vmm_vpci_init(struct vmm_vpci *vp, struct vmm_virtio_dev *dev, const struct vmm_vpci_ops *ops,
		  struct vmm_irq intx, const struct msix_ops *msix_ops, void *msix_ctx);
void vmm_vpci_destroy(struct vmm_vpci *vp);
/* Accesses at an offset into BAR 0 or BAR 1 (the bus trap shape; off + len within the BAR).
 * Take dev->lock. BAR 0 refuses a width above 8 bytes with -EINVAL (nothing is accessed);
 * BAR 1 leaves widths to msix.c. Return 0 otherwise. */
int vmm_vpci_bar0_access(struct vmm_vpci *vp, uint64_t off, uint8_t *data, unsigned len,
			 bool write);
int vmm_vpci_bar1_access(struct vmm_vpci *vp, uint64_t off, uint8_t *data, unsigned len,
			 bool write);

#endif
