/* SPDX-License-Identifier: MIT */
/*
 * PVH boot ABI (Xen's "HVM direct boot", used by QEMU, Firecracker and Cloud Hypervisor).
 * Layouts from xen/include/public/arch-x86/hvm/start_info.h and xen/include/public/elfnote.h;
 * written out here because Linux does not export them to userspace. Shared by vmmon (which
 * writes them) and the guest (which reads them); freestanding.
 */
#ifndef VMMON_INCLUDE_PVH_H
#define VMMON_INCLUDE_PVH_H

#include <stdint.h>

/* ELF note (name "Xen") whose descriptor is the 32-bit physical entry point. */
#define PVH_NOTE_NAME		 "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define HVM_START_MAGIC		 0x336ec578u
/* Version 1 adds the memory map; everything we write is version 1. */
#define HVM_START_VERSION 1

/* Memory map types, same numbering as the BIOS e820 types. */
#define HVM_MEMMAP_TYPE_RAM	 1
#define HVM_MEMMAP_TYPE_RESERVED 2
#define HVM_MEMMAP_TYPE_ACPI	 3
#define HVM_MEMMAP_TYPE_NVS	 4
#define HVM_MEMMAP_TYPE_UNUSABLE 5

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

#endif
