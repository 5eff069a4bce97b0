/* SPDX-License-Identifier: MIT */
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

void iop_mem_init(struct iop_mem *m, atomic_bool *fault)
{
	memset(m, 0, sizeof(*m));
	m->fault = fault;
	gmem_init(&m->gmem);
	for (unsigned i = 0; i < VHOST_USER_MEM_REGIONS; i++)
		m->r[i].watch = -1;
}

bool iop_mem_seal(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return false; /* no seals at all: a file on a disk filesystem, a block device */
	if (seals & F_SEAL_SHRINK)
		return true;
	/* F_SEAL_SEAL: a memfd made without MFD_ALLOW_SEALING, a tmpfs or hugetlbfs file, or one
	 * whose owner closed sealing. Adding fails on those, and on an fd opened read-only. */
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* ends do not overflow: checked before */
}

/* Everything about a region that can be checked without mapping it. The file is sealed first,
 * so that a size found large enough stays so (if it could be sealed). */
static int check_region(const struct vhost_user_mem_region *r, int fd, uint64_t page)
{
	uint64_t end;
	if ((r->guest_phys_addr | r->mmap_offset) & (page - 1))
		return -EINVAL; /* host addresses would not keep the guest's alignment */
	if (r->memory_size == 0 ||
	    __builtin_add_overflow(r->guest_phys_addr, r->memory_size, &end) ||
	    __builtin_add_overflow(r->userspace_addr, r->memory_size, &end) ||
	    __builtin_add_overflow(r->mmap_offset, r->memory_size, &end) ||
	    end > (uint64_t)INT64_MAX)
		return -EINVAL;
	iop_mem_seal(fd);
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

static int check_table(const struct vhost_user_memory *tbl, const int *fds, uint64_t page)
{
	if (tbl->nregions > VHOST_USER_MEM_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < tbl->nregions; i++) {
		const struct vhost_user_mem_region *a = &tbl->regions[i];
		int ret = check_region(a, fds[i], page);
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
	for (unsigned i = 0; i < n; i++) {
		iop_fault_unwatch(r[i].watch); /* before the address range can be reused */
		r[i].watch = -1;
		if (r[i].resv)
			munmap(r[i].resv, r[i].resv_len);
	}
}

/* Maps len bytes of fd from offset between two PROT_NONE guards, watched for faults; fills
 * r->map, r->resv, r->watch. */
static int map_guarded(struct iop_mem_region *r, int fd, uint64_t offset, uint64_t len,
		       uint64_t page, atomic_bool *fault)
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
	r->watch = iop_fault_watch(p, rounded, fault);
	return r->watch < 0 ? r->watch : 0;
}

int iop_mem_set(struct iop_mem *m, const struct vhost_user_memory *tbl, const int *fds)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	int ret = check_table(tbl, fds, page);
	if (ret)
		return ret;
	struct iop_mem next;
	iop_mem_init(&next, m->fault);
	for (unsigned i = 0; i < tbl->nregions; i++) {
		const struct vhost_user_mem_region *t = &tbl->regions[i];
		struct iop_mem_region *r = &next.r[i];
		r->map_len = t->memory_size;
		r->may_shrink = !iop_mem_seal(fds[i]); /* sealed in check_region if it could be */
		next.nr = i + 1;
		ret = map_guarded(r, fds[i], t->mmap_offset, r->map_len, page, m->fault);
		if (ret)
			goto unwind;
		r->gpa = t->guest_phys_addr;
		r->size = t->memory_size;
		r->uva = t->userspace_addr;
		ret = gmem_add(&next.gmem, r->gpa, r->size, r->map, -1, t->mmap_offset);
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
	iop_mem_init(m, m->fault);
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
