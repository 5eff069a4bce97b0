/* SPDX-License-Identifier: MIT */
/*
 * MSI-X for vmmon's PCI devices (PCI 3.0, 6.8.2): the table and the pending-bit array that a
 * device exposes in a BAR, delivered through KVM without a userspace exit. Each vector has an
 * eventfd attached as an irqfd to its own GSI, whose route carries the vector's message. A
 * masked vector has its irqfd detached: signals then wait in the eventfd's counter (the pending
 * bit) and KVM delivers them when the irqfd is attached again on unmask.
 *
 * The KVM side (GSIs, routes, irqfds) is reached through struct msix_ops, so the table, the
 * masking rules and the PBA are a pure core that the unit tests drive with a recording fake.
 */
#ifndef VMMON_DEV_MSIX_H
#define VMMON_DEV_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#define MSIX_MAX_VECTORS   128
#define MSIX_TABLE_SIZE(n) ((uint64_t)(n)*16u)
#define MSIX_PBA_SIZE(n)   ((uint64_t)(((n) + 63) / 64) * 8u)

/* What MSI-X needs from KVM; ctx is the msix's ops_ctx. Each returns 0 or -errno. */
struct msix_ops {
	/* A GSI of its own for a new vector (>= 0), or -errno. */
	int (*gsi_alloc)(void *ctx);
	/* Routes gsi to the MSI message (addr, data). */
	int (*route_set)(void *ctx, unsigned gsi, uint64_t addr, uint32_t data);
	/* Attaches efd to gsi (what it already counts is delivered then) or detaches it. */
	int (*irqfd)(void *ctx, int efd, unsigned gsi, bool attach);
};

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	int gsi;
	int efd;
	bool attached;
};

struct msix {
	unsigned nvec;
	bool enabled, masked; /* MSI-X enable and function mask, from the capability */
	const struct msix_ops *ops;
	void *ops_ctx;
	struct msix_vector vec[MSIX_MAX_VECTORS];
	uint64_t signals, errors;
};

/* Allocates GSIs and eventfds for nvec vectors; all start masked (PCI 3.0 6.8.2.9). */
int msix_init(struct msix *m, unsigned nvec, const struct msix_ops *ops, void *ops_ctx);
void msix_destroy(struct msix *m);
/* The capability's message control word changed: enable and function mask. */
void msix_set_control(struct msix *m, uint16_t control);
/* Table and PBA accesses at offsets within each structure (dword or qword accesses). A read
 * the table or PBA does not answer returns all ones and counts in errors. */
void msix_table_access(struct msix *m, uint64_t off, uint8_t *data, unsigned len, bool write);
void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len);
/* Raises vector v (from any thread). Returns false if v is not a vector. */
bool msix_signal(struct msix *m, unsigned v);

#endif
