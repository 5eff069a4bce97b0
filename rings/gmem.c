/* SPDX-License-Identifier: MIT */
#include "gmem.h"

#include <errno.h>
#include <string.h>

void gmem_init(struct gmem *m)
{
	m->nr = 0;
}

/* [a, a + alen) and [b, b + blen) with no overflow (checked by callers). */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gmem_add(struct gmem *m, uint64_t gpa, uint64_t size, void *hva, int fd, uint64_t fd_offset)
{
	if (size == 0 || gpa + size < gpa || hva == NULL)
		return -EINVAL;
	if (m->nr == GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < m->nr; i++)
		if (ranges_overlap(gpa, size, m->r[i].gpa, m->r[i].size))
			return -EEXIST;
	m->r[m->nr++] = (struct gmem_region){
		.gpa = gpa, .size = size, .hva = hva, .fd = fd, .fd_offset = fd_offset};
	return 0;
}

static const struct gmem_region *find(const struct gmem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nr; i++)
		if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].size)
			return &m->r[i];
	return NULL;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = find(m, gpa);
	if (!r)
		return NULL;
	uint64_t off = gpa - r->gpa;
	/* off < size, so size - off cannot underflow; comparing lengths avoids gpa + len overflow.
	 */
	if (len > r->size - off)
		return NULL;
	return r->hva + off;
}

void *gmem_ptr_prefix(const struct gmem *m, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	const struct gmem_region *r = find(m, gpa);
	if (!r || len == 0)
		return NULL;
	uint64_t off = gpa - r->gpa;
	*contig = len < r->size - off ? len : r->size - off;
	return r->hva + off;
}

/* Calls fn for each region-contained piece of [gpa, gpa + len); -EFAULT at the first hole. */
static int walk(const struct gmem *m, uint64_t gpa, uint64_t len, bool dry_run,
		void (*fn)(uint8_t *hva, uint64_t done, uint64_t n, void *arg), void *arg)
{
	uint64_t done = 0;
	while (done < len) {
		const struct gmem_region *r = find(m, gpa + done);
		if (!r || gpa + done < gpa)
			return -EFAULT;
		uint64_t off = gpa + done - r->gpa;
		uint64_t n = r->size - off;
		if (n > len - done)
			n = len - done;
		if (!dry_run)
			fn(r->hva + off, done, n, arg);
		done += n;
	}
	return 0;
}

bool gmem_contains(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	return walk(m, gpa, len, true, NULL, NULL) == 0;
}

static void copy_out(uint8_t *hva, uint64_t done, uint64_t n, void *arg)
{
	memcpy((uint8_t *)arg + done, hva, n);
}

static void copy_in(uint8_t *hva, uint64_t done, uint64_t n, void *arg)
{
	memcpy(hva, (const uint8_t *)arg + done, n);
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, uint64_t len)
{
	int ret = walk(m, gpa, len, true, NULL, NULL);
	if (ret)
		return ret;
	return walk(m, gpa, len, false, copy_out, dst);
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, uint64_t len)
{
	int ret = walk(m, gpa, len, true, NULL, NULL);
	if (ret)
		return ret;
	return walk(m, gpa, len, false, copy_in, (void *)src);
}
