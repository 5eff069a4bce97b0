/* SPDX-License-Identifier: MIT */
/*
 * The front-end's memory table (VHOST_USER_SET_MEM_TABLE): each region's fd mapped shared at
 * its mmap_offset, a struct gmem keyed by guest-physical address for the rings and the
 * requests, and the front-end's user addresses kept beside it, because vring addresses arrive
 * as user addresses. Every region is checked before anything is mapped: size 0, gpa + size or
 * uva + size or offset + size overflowing, overlaps in either address space, and a mapping
 * that would reach past the end of its fd are refused, and a refused table changes nothing.
 * Each mapping sits between two inaccessible guard areas, so that a read or write past a
 * region that a missed check let through faults at once instead of touching whatever ioproxy
 * memory happens to lie next to it.
 */
#ifndef IOPROXY_MEM_H
#define IOPROXY_MEM_H

#include <stdint.h>

#include "gmem.h"
#include "vhost_user.h"

struct iop_mem_region {
	uint64_t gpa, size, uva;
	uint8_t *map; /* the mapping, from the page holding mmap_offset */
	uint64_t map_len;
	uint8_t *resv; /* the reservation: guard, mapping (page-rounded), guard */
	uint64_t resv_len;
};

struct iop_mem {
	unsigned nr;
	struct iop_mem_region r[VHOST_USER_MEM_REGIONS];
	struct gmem gmem;
};

void iop_mem_init(struct iop_mem *m);
/* Replaces m with the table (nregions checked by the caller against fds). The fds are only
 * read (the mappings outlive them); the caller closes them. Returns 0 or -errno, m unchanged
 * on error. */
int iop_mem_set(struct iop_mem *m, const struct vhost_user_memory *tbl, const int *fds);
void iop_mem_clear(struct iop_mem *m);
/* Guest-physical address of front-end user address uva, with [uva, uva + len) inside one
 * region. Returns 0 or -EFAULT. */
int iop_mem_uva_to_gpa(const struct iop_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa);

#endif
