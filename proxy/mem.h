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
 *
 * A region's guest-physical address and file offset must be page-aligned: the mapping starts
 * at the offset itself, so a ring the driver aligned in guest memory is aligned in ioproxy too
 * (an odd offset or base would put it at a misaligned host address, undefined behaviour for
 * every access through rings/).
 *
 * The front-end may shrink a region's file after ioproxy mapped it; an access past the new
 * end raises SIGBUS. A memfd that allows sealing is sealed against shrinking (F_SEAL_SHRINK,
 * before its size is checked, so the check stays true); one that cannot be sealed (F_SEAL_SEAL
 * already set, a tmpfs, hugetlbfs or disk file: QEMU's file backends) is accepted, and every
 * mapping is entered with the device's fault flag in fault.h's table, whose SIGBUS handler
 * turns such a fault into that front-end being dropped.
 */
#ifndef IOPROXY_MEM_H
#define IOPROXY_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"
#include "vhost_user.h"

struct iop_mem_region {
	uint64_t gpa, size, uva;
	uint8_t *map; /* the mapping, from mmap_offset */
	uint64_t map_len;
	int watch;	 /* its fault.h slot */
	bool may_shrink; /* its file could not be sealed against shrinking */
	uint8_t *resv;	 /* the reservation: guard, mapping (page-rounded), guard */
	uint64_t resv_len;
};

struct iop_mem {
	atomic_bool *fault; /* raised by a fault in any of its mappings (fault.h) */
	unsigned nr;
	struct iop_mem_region r[VHOST_USER_MEM_REGIONS];
	struct gmem gmem;
};

/* An empty table whose mappings will raise *fault (may be NULL) when they fault. */
void iop_mem_init(struct iop_mem *m, atomic_bool *fault);
/* Replaces m with the table (nregions checked by the caller against fds). The fds are sealed
 * against shrinking where they allow it, even if the table is then refused, and otherwise
 * left alone (the mappings outlive them); the caller closes them. Returns 0 or -errno (-ENOSPC:
 * fault.h's table is full), m unchanged on error. */
int iop_mem_set(struct iop_mem *m, const struct vhost_user_memory *tbl, const int *fds);
void iop_mem_clear(struct iop_mem *m);
/* Keeps fd from shrinking: true if it no longer can (it was sealed, or is now), false if it
 * still can (not a memfd, or sealing is closed to it), which the caller may accept if it
 * survives a fault on the mapping. */
bool iop_mem_seal(int fd);
/* Guest-physical address of front-end user address uva, with [uva, uva + len) inside one
 * region. Returns 0 or -EFAULT. */
int iop_mem_uva_to_gpa(const struct iop_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa);

#endif
