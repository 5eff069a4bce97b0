/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio, version 2 (virtio 1.2, 4.2): a 512-byte register window plus the device's
 * config space, announced to the guest on its command line as virtio_mmio.device=SIZE@ADDR:IRQ
 * (Linux's syntax; Firecracker does the same). The notify register is one ioeventfd per queue
 * (matched on the queue index written), the interrupt an irqfd on an edge-triggered ISA line.
 */
#ifndef VMMON_VIRTIO_MMIO_H
#define VMMON_VIRTIO_MMIO_H

#include <stdint.h>

#include "pci.h" /* struct vmm_virtio_host */

#define VMMIO_SIZE    0x200
#define VMMIO_MAGIC   0x74726976 /* "virt" */
#define VMMIO_VERSION 2
#define VMMIO_VENDOR  0x4e4d4d56 /* "VMMN" */

struct vmm_virtio_mmio {
	struct vmm_virtio_dev *dev;
	const struct vmm_virtio_host *host;
	uint64_t base;
	unsigned gsi;
	int irq_fd; /* irqfd on gsi: a write is one edge */
	uint32_t dfselect, gfselect, queue_select;
	uint32_t int_status;
	bool ioeventfds;
	uint64_t bad_accesses;
};

/* Registers the window at base and the interrupt on gsi. */
int vmm_virtio_mmio_init(struct vmm_virtio_mmio *m, struct vmm_virtio_dev *dev,
			 const struct vmm_virtio_host *host, uint64_t base, unsigned gsi);
void vmm_virtio_mmio_destroy(struct vmm_virtio_mmio *m);
/* The kernel command-line word that announces it. */
int vmm_virtio_mmio_cmdline(const struct vmm_virtio_mmio *m, char *buf, size_t len);

#endif
