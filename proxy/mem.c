/* SPDX-License-Identifier: MIT */
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void iop_mem_init(struct iop_mem *m)
{
	memset(m, 0, sizeof(*m));
	gmem_init(&m->gmem);
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* ends do not overflow: checked before */
}

/* Everything about a region that can be checked without mapping it. */
static int check_region(const struct vhost_user_mem_region *r, int fd)
{
	uint64_t end;
	if (r->memory_size == 0 ||
	    __builtin_add_overflow(r->guest_phys_addr, r->memory_size, &end) ||
	    __builtin_add_overflow(r->userspace_addr, r->memory_size, &end) ||
	    __builtin_add_overflow(r->mmap_offset, r->memory_size, &end) ||
	    end > (uint64_t)INT64_MAX)
		return -EINVAL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* A regular file or memfd must hold the whole range (a mapping past its end would fault
	 * on access); a block device or hugetlbfs file is sized the same way. */
	if ((S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) && end > (uint64_t)st.st_size)
		return -EINVAL;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL; /* a socket, pipe or device node is no memory */
	return 0;
}

static int check_table(const struct vhost_user_memory *tbl, const int *fds)
{
	if (tbl->nregions > VHOST_USER_MEM_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < tbl->nregions; i++) {
		const struct vhost_user_mem_region *a = &tbl->regions[i];
		int ret = check_region(a, fds[i]);
		if (ret)
			return ret;
		for (unsigned k = 0; k < i; k++) {
			const struct vhost_user_mem_region *b = &tbl->regions[k];
			if (overlap(a->guest_phys_addr, a->memory_size, b->guest_phys_addr,
				    b->memory_size) ||
			    overlap(a->userspace_addr, a->memory_size, b->userspace_addr,
				    b->memory_size))
				return -EINVAL;
		}
	}
	return 0;
}

#define GUARD_BYTES (2u << 20) /* each side of a region's mapping */

static void unmap_all(struct iop_mem_region *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (r[i].resv)
			munmap(r[i].resv, r[i].resv_len);
}

/* Maps len bytes of fd from offset between two PROT_NONE guards; fills r->map, r->resv. */
static int map_guarded(struct iop_mem_region *r, int fd, uint64_t offset, uint64_t len,
		       uint64_t page)
{
	uint64_t rounded = (len + page - 1) & ~(page - 1);
	r->resv_len = rounded + 2 * (uint64_t)GUARD_BYTES;
	void *resv = mmap(NULL, r->resv_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	if (resv == MAP_FAILED)
		return -errno;
	void *p = mmap((uint8_t *)resv + GUARD_BYTES, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, (off_t)offset);
	if (p == MAP_FAILED) {
		int ret = -errno;
		munmap(resv, r->resv_len);
		return ret;
	}
	r->resv = resv;
	r->map = p;
	return 0;
}

int iop_mem_set(struct iop_mem *m, const struct vhost_user_memory *tbl, const int *fds)
{
	int ret = check_table(tbl, fds);
	if (ret)
		return ret;
	struct iop_mem next;
	iop_mem_init(&next);
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i < tbl->nregions; i++) {
		const struct vhost_user_mem_region *t = &tbl->regions[i];
		uint64_t start = t->mmap_offset & ~(page - 1), skip = t->mmap_offset - start;
		struct iop_mem_region *r = &next.r[i];
		r->map_len = t->memory_size + skip;
		ret = map_guarded(r, fds[i], start, r->map_len, page);
		if (ret)
			goto unwind;
		r->gpa = t->guest_phys_addr;
		r->size = t->memory_size;
		r->uva = t->userspace_addr;
		next.nr = i + 1;
		ret = gmem_add(&next.gmem, r->gpa, r->size, r->map + skip, -1, t->mmap_offset);
		if (ret)
			goto unwind;
	}
	iop_mem_clear(m);
	*m = next;
	return 0;
unwind:
	unmap_all(next.r, next.nr);
	return ret;
}

void iop_mem_clear(struct iop_mem *m)
{
	unmap_all(m->r, m->nr);
	iop_mem_init(m);
}

int iop_mem_uva_to_gpa(const struct iop_mem *m, uint64_t uva, uint64_t len, uint64_t *gpa)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct iop_mem_region *r = &m->r[i];
		if (uva >= r->uva && uva - r->uva < r->size && len <= r->size - (uva - r->uva)) {
			*gpa = r->gpa + (uva - r->uva);
			return 0;
		}
	}
	return -EFAULT;
}
