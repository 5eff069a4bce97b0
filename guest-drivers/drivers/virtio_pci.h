/* SPDX-License-Identifier: MIT */
/*
 * Modern virtio-pci (virtio 1.2, 4.1): the common, notify, ISR and device configuration
 * structures found through vendor capabilities in memory BARs; MSI-X with one vector per queue
 * plus one for configuration changes, or the INTx line. Legacy (I/O port) devices are not
 * driven.
 */
#ifndef G_DRIVERS_VIRTIO_PCI_H
#define G_DRIVERS_VIRTIO_PCI_H

#include <stdint.h>

#include "drivers/msix.h"
#include "drivers/pci.h"
#include "drivers/virtio.h"

#define G_VIRTIO_PCI_VENDOR	     0x1af4
#define G_VIRTIO_PCI_MODERN_BASE     0x1040 /* device ID = 0x1040 + virtio device ID */
#define G_VIRTIO_PCI_TRANSITIONAL_LO 0x1000 /* 0x1000-0x103f: the subsystem ID says which */
#define G_VIRTIO_PCI_TRANSITIONAL_HI 0x103f

struct g_virtio_pci {
	struct g_virtio_dev vdev; /* first: what the core and the device drivers see */
	struct g_pci_dev pci;
	struct g_msix msix;
	/* the capability structures, mapped */
	uintptr_t common, isr, device, notify;
	uint32_t device_len, notify_len;
	uint32_t notify_mult; /* notify_off_multiplier */
	uint16_t num_queues;
};

/* Finds the first PCI function that is a virtio device of type device_id (VIRTIO_ID_*) with the
 * modern capabilities after passing over *skip of them (each one passed over decrements it),
 * maps them and enables memory decoding and bus mastering. Returns 0, -ENODEV if there is none,
 * -EINVAL if a capability points outside its BAR. */
int g_virtio_pci_probe(struct g_virtio_pci *vp, uint32_t device_id, unsigned int *skip);

#endif
