/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: a table of (guest-physical base, size, host pointer) regions. It is the only
 * way vmmon, ioproxy and the rings turn a guest address into a host pointer, and every
 * translation is bounds- and overflow-checked. Freestanding (no libc beyond memcpy).
 */
#ifndef VMMON_RINGS_GMEM_H
#define VMMON_RINGS_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	int fd;		    /* backing memfd, or -1; shared with other processes */
	uint64_t fd_offset; /* where this region starts inside fd */
};

struct gmem {
	unsigned nr;
	struct gmem_region r[GMEM_MAX_REGIONS];
};

void gmem_init(struct gmem *m);
/* Adds a region; regions may not overlap and size may not be 0. Returns 0 or -errno. */
int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *hva, int fd, uint64_t fd_offset);
/* Host pointer for [gpa, gpa + len) if the whole range lies in one region, else NULL. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Host pointer for gpa and, in *contig, how many of the len bytes from there lie in the same
 * region (at least 1), or NULL if gpa itself is not guest memory. */
void *gmem_ptr_prefix(const struct gmem *m, uint64_t gpa, uint64_t len, uint64_t *contig);
/* True if [gpa, gpa + len) is backed by guest memory, possibly across adjacent regions. */
bool gmem_contains(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Copies across region boundaries; -EFAULT if any byte is not guest memory (nothing copied). */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len);

#endif
