/* SPDX-License-Identifier: MIT */
/*
 * PVH loader: an ELF image (32- or 64-bit) with a Xen PHYS32_ENTRY note, started in 32-bit
 * protected mode with %ebx pointing at an hvm_start_info (Xen's docs/misc/pvh.pandoc).
 */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../layout.h"
#include "boot.h"
#include "pvh.h"

#define MAX_PHDRS  64
#define MAX_MEMMAP 128

/* Program headers of either class, widened to 64 bits. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_image {
	const uint8_t *data;
	size_t size;
	unsigned nr;
	struct phdr ph[MAX_PHDRS];
};

/* Everything the start info points at, written by the plan from here. */
struct pvh_data {
	struct hvm_start_info info;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry memmap[MAX_MEMMAP];
	char names[MAX_PHDRS][32];
};

static bool in_file(const struct elf_image *img, uint64_t off, uint64_t len)
{
	return off <= img->size && len <= img->size - off;
}

static int parse_headers(struct elf_image *img, struct host_err *err)
{
	const uint8_t *d = img->data;
	if (img->size < EI_NIDENT)
		return host_err_set(err, ENOEXEC, "the ELF image is truncated (%zu bytes)",
				    img->size);
	bool is64 = d[EI_CLASS] == ELFCLASS64;
	if ((!is64 && d[EI_CLASS] != ELFCLASS32) || d[EI_DATA] != ELFDATA2LSB ||
	    d[EI_VERSION] != EV_CURRENT)
		return host_err_set(err, ENOEXEC,
				    "the ELF image is not a little-endian ELF32/ELF64 "
				    "file: build it for x86");
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (img->size < ehsize)
		return host_err_set(err, ENOEXEC, "the ELF image is truncated in its header");
	Elf64_Ehdr eh;
	if (is64) {
		memcpy(&eh, d, sizeof(eh));
	} else {
		Elf32_Ehdr e32;
		memcpy(&e32, d, sizeof(e32));
		eh = (Elf64_Ehdr){.e_type = e32.e_type,
				  .e_machine = e32.e_machine,
				  .e_phoff = e32.e_phoff,
				  .e_phentsize = e32.e_phentsize,
				  .e_phnum = e32.e_phnum};
	}
	if (eh.e_type != ET_EXEC || (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386))
		return host_err_set(err, ENOEXEC,
				    "the ELF image is not an x86 executable "
				    "(e_type %u, e_machine %u)",
				    eh.e_type, eh.e_machine);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (eh.e_phentsize != phsize || eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS ||
	    !in_file(img, eh.e_phoff, (uint64_t)eh.e_phnum * phsize))
		return host_err_set(err, ENOEXEC,
				    "the ELF image's program headers are missing, "
				    "malformed or truncated (%u headers at 0x%" PRIx64 ")",
				    eh.e_phnum, (uint64_t)eh.e_phoff);
	img->nr = eh.e_phnum;
	for (unsigned i = 0; i < img->nr; i++) {
		const uint8_t *p = d + eh.e_phoff + (uint64_t)i * phsize;
		if (is64) {
			Elf64_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			img->ph[i] = (struct phdr){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
						   ph.p_memsz};
		} else {
			Elf32_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			img->ph[i] = (struct phdr){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
						   ph.p_memsz};
		}
	}
	return 0;
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ull;
}

/* Finds the PHYS32_ENTRY note in the PT_NOTE segments. Returns 0 (entry set) or -errno. */
static int find_entry(const struct elf_image *img, uint64_t *entry, struct host_err *err)
{
	for (unsigned i = 0; i < img->nr; i++) {
		const struct phdr *ph = &img->ph[i];
		if (ph->type != PT_NOTE)
			continue;
		if (!in_file(img, ph->offset, ph->filesz))
			return host_err_set(err, ENOEXEC,
					    "the ELF image is truncated: note segment "
					    "%u lies past the end of the file",
					    i);
		const uint8_t *n = img->data + ph->offset;
		uint64_t left = ph->filesz;
		while (left >= sizeof(Elf32_Nhdr)) {
			Elf32_Nhdr nh; /* same layout in both classes */
			memcpy(&nh, n, sizeof(nh));
			uint64_t name = align4(nh.n_namesz), desc = align4(nh.n_descsz);
			if (name + desc > left - sizeof(nh))
				return host_err_set(err, ENOEXEC,
						    "the ELF image has a malformed note "
						    "in segment %u",
						    i);
			const uint8_t *np = n + sizeof(nh);
			if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
			    memcmp(np, PVH_NOTE_NAME, 4) == 0) {
				/* Linux writes the entry as a pointer-sized value, others as 32
				 * bits. */
				uint64_t v = 0;
				if (nh.n_descsz != 4 && nh.n_descsz != 8)
					return host_err_set(err, ENOEXEC,
							    "the PVH entry note has a "
							    "%u-byte value",
							    nh.n_descsz);
				memcpy(&v, np + name, nh.n_descsz);
				if (v > UINT32_MAX)
					return host_err_set(
						err, ENOEXEC,
						"the PVH entry 0x%" PRIx64 " is above 4 GiB", v);
				*entry = v;
				return 0;
			}
			n += sizeof(nh) + name + desc;
			left -= sizeof(nh) + name + desc;
		}
	}
	return host_err_set(err, ENOEXEC,
			    "the ELF image has no PVH entry note "
			    "(Xen note XEN_ELFNOTE_PHYS32_ENTRY): build the kernel with PVH "
			    "support (Linux: CONFIG_PVH) or pass a bzImage");
}

static int plan_segments(struct boot_plan *plan, const struct elf_image *img, uint64_t entry,
			 struct pvh_data *pd, struct host_err *err)
{
	bool entry_loaded = false;
	for (unsigned i = 0; i < img->nr; i++) {
		const struct phdr *ph = &img->ph[i];
		if (ph->type != PT_LOAD || ph->memsz == 0)
			continue;
		if (ph->filesz > ph->memsz || !in_file(img, ph->offset, ph->filesz))
			return host_err_set(err, ENOEXEC,
					    "the ELF image is truncated or malformed: "
					    "segment %u wants 0x%" PRIx64 " bytes at file "
					    "offset 0x%" PRIx64 " of %zu",
					    i, ph->filesz, ph->offset, img->size);
		snprintf(pd->names[i], sizeof(pd->names[i]), "image segment %u", i);
		int ret = boot_plan_add(plan, ph->paddr, ph->memsz, img->data + ph->offset,
					ph->filesz, pd->names[i], err);
		if (ret)
			return ret;
		if (entry >= ph->paddr && entry - ph->paddr < ph->memsz)
			entry_loaded = true;
	}
	if (!entry_loaded)
		return host_err_set(err, ENOEXEC,
				    "the PVH entry 0x%" PRIx64 " is not inside any "
				    "loaded segment of the image",
				    entry);
	return 0;
}

static void fill_memmap(struct pvh_data *pd, const struct vmm_e820 *e820)
{
	for (unsigned i = 0; i < e820->nr && i < MAX_MEMMAP; i++)
		pd->memmap[i] = (struct hvm_memmap_table_entry){
			.addr = e820->e[i].addr, .size = e820->e[i].size, .type = e820->e[i].type};
	pd->info.memmap_paddr = LAYOUT_MEMMAP;
	pd->info.memmap_entries = e820->nr;
}

static int plan_boot_data(struct boot_plan *plan, const struct vmm_boot_params *p,
			  struct pvh_data *pd, struct host_err *err)
{
	size_t cmdlen = strlen(p->cmdline) + 1;
	if (cmdlen > LAYOUT_CMDLINE_MAX)
		return host_err_set(err, E2BIG,
				    "the command line is %zu bytes; PVH guests take at "
				    "most %llu: shorten --cmdline",
				    cmdlen - 1, LAYOUT_CMDLINE_MAX - 1);
	pd->info.magic = HVM_START_MAGIC;
	pd->info.version = HVM_START_VERSION;
	pd->info.cmdline_paddr = LAYOUT_CMDLINE;
	fill_memmap(pd, p->e820);
	int ret = boot_plan_add(plan, LAYOUT_CMDLINE, cmdlen, p->cmdline, cmdlen, "command line",
				err);
	if (!ret && p->initrd) {
		uint64_t at = boot_plan_find_top(plan, p->initrd_size, LAYOUT_MMIO_HOLE);
		if (!at)
			return host_err_set(err, ENOMEM,
					    "the initramfs (%zu bytes) does not fit in "
					    "guest RAM below 3 GiB: raise --memory",
					    p->initrd_size);
		pd->mod = (struct hvm_modlist_entry){.paddr = at, .size = p->initrd_size};
		pd->info.nr_modules = 1;
		pd->info.modlist_paddr = LAYOUT_MODLIST;
		ret = boot_plan_add(plan, at, p->initrd_size, p->initrd, p->initrd_size,
				    "initramfs", err);
		if (!ret)
			ret = boot_plan_add(plan, LAYOUT_MODLIST, sizeof(pd->mod), &pd->mod,
					    sizeof(pd->mod), "module list", err);
	}
	if (!ret)
		ret = boot_plan_add(plan, LAYOUT_START_INFO, sizeof(pd->info), &pd->info,
				    sizeof(pd->info), "start info", err);
	if (!ret)
		ret = boot_plan_add(plan, LAYOUT_MEMMAP,
				    pd->info.memmap_entries * sizeof(pd->memmap[0]), pd->memmap,
				    pd->info.memmap_entries * sizeof(pd->memmap[0]), "memory map",
				    err);
	return ret;
}

int vmm_pvh_load(struct gmem *mem, const struct vmm_boot_params *p, struct vmm_boot_entry *entry,
		 struct host_err *err)
{
	struct {
		struct elf_image img;
		struct pvh_data pd;
		struct boot_plan plan;
	} *l = calloc(1, sizeof(*l)); /* large, and only needed while loading */
	uint64_t rip = 0;
	if (!l)
		return host_err_set(err, ENOMEM, "out of memory while loading the image");
	l->img.data = p->kernel;
	l->img.size = p->kernel_size;
	boot_plan_init(&l->plan, p);
	/* vmmon's own low page first, so an image that overlaps it is named in the error. */
	int ret =
		boot_plan_add(&l->plan, 0, LAYOUT_LOW_DATA_END, NULL, 0, "the BIOS data area", err);
	if (!ret)
		ret = parse_headers(&l->img, err);
	if (!ret)
		ret = find_entry(&l->img, &rip, err);
	if (!ret)
		ret = plan_segments(&l->plan, &l->img, rip, &l->pd, err);
	if (!ret)
		ret = plan_boot_data(&l->plan, p, &l->pd, err);
	if (!ret)
		ret = boot_plan_commit(&l->plan, mem, err);
	if (!ret)
		*entry = (struct vmm_boot_entry){
			.mode = VMM_BOOT_PVH, .rip = rip, .arg = LAYOUT_START_INFO};
	free(l);
	return ret;
}
