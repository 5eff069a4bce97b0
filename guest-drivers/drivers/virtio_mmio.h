/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio, version 2 only (virtio 1.2, 4.2.2). There is no discovery on the bus: the VMM
 * names each device on the kernel command line as virtio_mmio.device=SIZE@ADDR:IRQ[:ID], the
 * syntax of Linux's virtio_mmio driver (QEMU's microvm and Firecracker write it; so does
 * vmmon). IRQ is a GSI, routed through the I/O APIC.
 */
#ifndef G_DRIVERS_VIRTIO_MMIO_H
#define G_DRIVERS_VIRTIO_MMIO_H

#include <stdint.h>

#include "drivers/virtio.h"

#define G_VIRTIO_MMIO_ARG   "virtio_mmio.device"
#define G_VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */

struct g_virtio_mmio {
	struct g_virtio_dev vdev; /* first: what the core and the device drivers see */
	uintptr_t base;		  /* mapped registers */
	uint64_t paddr, size;
	unsigned int irq; /* GSI */
};

/* Pure: parses "SIZE@ADDR:IRQ[:ID]". SIZE takes a K, M or G suffix; numbers are decimal, or
 * hexadecimal after 0x. Returns 0 or -EINVAL. */
int g_virtio_mmio_parse(const char *s, uint64_t *size, uint64_t *addr, unsigned int *irq);

/* Finds the first device of type device_id among the command line's virtio_mmio.device words
 * after passing over *skip of them (version 2 ones; each decrements it). Returns 0; -ENODEV if
 * there is none; -ENOTSUP if the only match speaks version 1 (legacy). */
int g_virtio_mmio_probe(struct g_virtio_mmio *vm, uint32_t device_id, unsigned int *skip);

#endif
