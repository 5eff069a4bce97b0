/* SPDX-License-Identifier: MIT */
/* Finding a virtio device on whichever transport carries it. */
#ifndef G_DRIVERS_VIRTIO_PROBE_H
#define G_DRIVERS_VIRTIO_PROBE_H

#include "drivers/virtio.h"
#include "drivers/virtio_mmio.h"
#include "drivers/virtio_pci.h"

/* Storage for one device on either transport; the program owns it. */
union g_virtio_transport {
	struct g_virtio_pci pci;
	struct g_virtio_mmio mmio;
};

/* Device number index (0: the first) of type device_id (VIRTIO_ID_*), counting those on PCI
 * first, then the virtio-mmio devices of the command line; only the one transport if
 * o->transport names it. *out points into t. Returns 0, -ENODEV, or the transport's error. */
int g_virtio_find(union g_virtio_transport *t, uint32_t device_id, unsigned int index,
		  const struct g_virtio_opts *o, struct g_virtio_dev **out);

#endif
