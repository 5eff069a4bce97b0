/* SPDX-License-Identifier: MIT */
/* What the virtio programs share: options, the TSC, finding their device, reporting it. */
#ifndef G_PROGRAMS_VDEV_H
#define G_PROGRAMS_VDEV_H

#include <linux/virtio_ids.h>
#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio_probe.h"
#include "runtime/program.h"

struct g_vprog {
	const char *name; /* "blk", ...: the prefix of the program's lines */
	struct g_virtio_opts opts;
	union g_virtio_transport t;
	struct g_virtio_dev *dev;
};

/* Reads the options (transport=pci|mmio, mode=irq|poll, irq=msix|intx, ring=split|packed,
 * event_idx=on|off, indirect=on|off), calibrates the TSC and finds the first device of type
 * device_id; prints where it is on a "mem:" line (addresses differ between machines). Fails
 * run with the reason. */
int g_vprog_open(struct g_run *run, struct g_vprog *p, const char *name, uint32_t device_id);

/* The same for device number index of that type (0: the first; PCI ones counted before MMIO
 * ones). The TSC is calibrated only for index 0: a program opens its first device first. */
int g_vprog_open_nth(struct g_run *run, struct g_vprog *p, const char *name, uint32_t device_id,
		     unsigned int index);

/* The same start for a device that is not virtio (dev=ata, dev=pcnet): refuses the virtio-only
 * options (transport, irq, ring, event_idx, indirect, revector), reads mode=irq|poll into
 * *poll, checks the MP table and calibrates the TSC. Fails run with the reason. */
int g_vprog_open_legacy(struct g_run *run, const char *dev, bool *poll);

/* After the driver's init: prints the ring layout and interrupt mode that were set up. */
void g_vprog_report(const struct g_vprog *p);

#endif
