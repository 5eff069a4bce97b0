/* SPDX-License-Identifier: MIT */
#include "boot.h"

#include <inttypes.h>
#include <string.h>

#include "../layout.h"

#define PAGE_SIZE 4096ull
#define ELF_MAGIC "\177ELF"
#define HDRS_OFF  0x202

int vmm_boot_load(struct gmem *mem, const struct vmm_boot_params *p, struct vmm_boot_entry *entry,
		  struct host_err *err)
{
	if (p->kernel_size >= 4 && memcmp(p->kernel, ELF_MAGIC, 4) == 0)
		return vmm_pvh_load(mem, p, entry, err);
	if (p->kernel_size >= HDRS_OFF + 4 && memcmp(p->kernel + HDRS_OFF, "HdrS", 4) == 0)
		return vmm_bzimage_load(mem, p, entry, err);
	return host_err_set(err, ENOEXEC,
			    "the kernel image is neither an ELF file (PVH) nor a Linux bzImage: "
			    "pass a PVH ELF such as build/guest-drivers/guest.elf or a bzImage");
}

void boot_plan_init(struct boot_plan *plan, const struct vmm_boot_params *p)
{
	plan->e820 = p->e820;
	plan->ram_is_zero = p->ram_is_zero;
	plan->nr = 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int boot_plan_add(struct boot_plan *plan, uint64_t gpa, uint64_t len, const void *src,
		  uint64_t src_len, const char *what, struct host_err *err)
{
	if (len == 0)
		return 0;
	if (src_len > len || gpa + len < gpa)
		return host_err_set(err, EINVAL,
				    "%s: bad size (0x%" PRIx64 " bytes at 0x%" PRIx64 ")", what,
				    len, gpa);
	if (!vmm_e820_is_ram(plan->e820, gpa, len)) {
		uint64_t top = vmm_e820_low_ram_end(plan->e820);
		if (gpa + len > top && gpa < LAYOUT_MMIO_HOLE && gpa >= LAYOUT_HIGH_RAM &&
		    gpa + len <= LAYOUT_MMIO_HOLE)
			return host_err_set(err, ENOMEM,
					    "%s (0x%" PRIx64 "-0x%" PRIx64 ") does not fit in the "
					    "guest's RAM, which ends at 0x%" PRIx64
					    ": raise --memory",
					    what, gpa, gpa + len, top);
		return host_err_set(
			err, EINVAL,
			"%s (0x%" PRIx64 "-0x%" PRIx64 ") is not in guest RAM: it lies "
			"in a hole of the memory map (legacy area, BIOS or PCI hole) or "
			"beyond RAM; link the image at 1 MiB or above, below 3 GiB",
			what, gpa, gpa + len);
	}
	for (unsigned i = 0; i < plan->nr; i++) {
		const struct boot_item *it = &plan->item[i];
		if (overlaps(gpa, len, it->gpa, it->len))
			return host_err_set(err, EINVAL,
					    "%s (0x%" PRIx64 "-0x%" PRIx64
					    ") overlaps %s (0x%" PRIx64 "-0x%" PRIx64 ")",
					    what, gpa, gpa + len, it->what, it->gpa,
					    it->gpa + it->len);
	}
	if (plan->nr == BOOT_PLAN_MAX)
		return host_err_set(err, E2BIG, "%s: the image has too many parts to load", what);
	plan->item[plan->nr++] = (struct boot_item){
		.gpa = gpa, .len = len, .src = src, .src_len = src_len, .what = what};
	return 0;
}

uint64_t boot_plan_find_top(const struct boot_plan *plan, uint64_t len, uint64_t limit)
{
	const struct vmm_e820 *map = plan->e820;
	uint64_t best = 0;
	for (unsigned i = 0; i < map->nr; i++) {
		const struct boot_e820_entry *e = &map->e[i];
		if (e->type != VMM_E820_RAM)
			continue;
		uint64_t end = e->addr + e->size < limit ? e->addr + e->size : limit;
		/* Walk down from the top, stepping below whatever item is in the way. */
		while (end >= e->addr + len && end - len > best) {
			uint64_t at = (end - len) & ~(PAGE_SIZE - 1);
			if (at < e->addr)
				break;
			const struct boot_item *hit = NULL;
			for (unsigned j = 0; j < plan->nr && !hit; j++)
				if (overlaps(at, len, plan->item[j].gpa, plan->item[j].len))
					hit = &plan->item[j];
			if (!hit) {
				best = at;
				break;
			}
			end = hit->gpa;
		}
	}
	return best;
}

int boot_plan_commit(const struct boot_plan *plan, struct gmem *mem, struct host_err *err)
{
	for (unsigned i = 0; i < plan->nr; i++) {
		const struct boot_item *it = &plan->item[i];
		if (!it->src)
			continue; /* a reservation: fresh guest RAM is already zero */
		uint8_t *dst = gmem_ptr(mem, it->gpa, it->len);
		if (!dst)
			return host_err_set(err, EFAULT,
					    "%s (0x%" PRIx64 "-0x%" PRIx64
					    ") is not backed by guest "
					    "memory",
					    it->what, it->gpa, it->gpa + it->len);
		if (it->src_len)
			memcpy(dst, it->src, it->src_len);
		/* Touching untouched memfd pages would allocate them only to store zeros. */
		if (!plan->ram_is_zero)
			memset(dst + it->src_len, 0, it->len - it->src_len);
	}
	return 0;
}
