// SPDX-License-Identifier: MIT
#include "drivers/virtio_probe.h"
#include "lib/errno.h"
#include "lib/string.h"

int g_virtio_find(union g_virtio_transport *t, uint32_t device_id, unsigned int index,
		  const struct g_virtio_opts *o, struct g_virtio_dev **out)
{
	unsigned int skip = index; /* what PCI passes over leaves the rest to MMIO */
	int rc = -ENODEV;

	if (!o->transport || !strcmp(o->transport, "pci")) {
		rc = g_virtio_pci_probe(&t->pci, device_id, &skip);
		if (!rc) {
			*out = &t->pci.vdev;
			return 0;
		}
	}
	if (!o->transport || !strcmp(o->transport, "mmio")) {
		int mrc = g_virtio_mmio_probe(&t->mmio, device_id, &skip);

		if (!mrc) {
			*out = &t->mmio.vdev;
			return 0;
		}
		if (rc == -ENODEV)
			rc = mrc;
	}
	return rc;
}
