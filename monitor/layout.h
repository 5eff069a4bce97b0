/* SPDX-License-Identifier: MIT */
/*
 * Where vmmon puts things in guest-physical memory. The boot loaders check that an image does
 * not overlap any of this before they copy anything.
 */
#ifndef VMMON_LAYOUT_H
#define VMMON_LAYOUT_H

#include "guest_abi.h"

/* Real-mode IVT and BIOS data area: the BDA's EBDA pointer and base memory size are filled in. */
#define LAYOUT_BDA	    0x400ull
#define LAYOUT_BDA_EBDA_SEG 0x40eull  /* word: EBDA segment */
#define LAYOUT_BDA_BASE_MEM 0x413ull  /* word: base memory in KiB */
#define LAYOUT_LOW_DATA_END 0x1000ull /* [0, 4 KiB) is vmmon's */

/* Boot data: GDT, PVH start info and module list, zero page or memory map, page tables. */
#define LAYOUT_GDT	       0x1000ull
#define LAYOUT_START_INFO      0x6000ull
#define LAYOUT_MODLIST	       0x6100ull
#define LAYOUT_ZERO_PAGE       0x7000ull /* bzImage's boot_params, or PVH's memory map */
#define LAYOUT_MEMMAP	       0x7000ull
#define LAYOUT_PML4	       0x9000ull
#define LAYOUT_PDPT	       0xa000ull
#define LAYOUT_PD	       0xb000ull /* four pages: 4 GiB of 2 MiB pages */
#define LAYOUT_PAGE_TABLES_END 0xf000ull
#define LAYOUT_CMDLINE	       0x20000ull
#define LAYOUT_CMDLINE_MAX     0x1000ull /* PVH limit, with the NUL; bzImage: its cmdline_size */

/* Reserved legacy areas (e820 type 2): EBDA, VGA and option ROM space, BIOS. */
#define LAYOUT_EBDA	 0x9fc00ull
#define LAYOUT_BIOS	 0xf0000ull /* the MP table lives here */
#define LAYOUT_HIGH_RAM	 0x100000ull
#define LAYOUT_MMIO_HOLE GUEST_MMIO_HOLE_START
#define LAYOUT_4G	 0x100000000ull

/* Where KVM on Intel keeps the real-mode identity map (1 page) and TSS (3 pages): the top of
 * the 32-bit hole, clear of the APICs, of any BAR and of a firmware of up to 256 KiB. */
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ull
#define LAYOUT_KVM_TSS		0xfffbd000ull
#define LAYOUT_KVM_REALMODE_END 0xfffc0000ull

/* Smallest guest: 1 MiB of legacy space plus room for a kernel. */
#define LAYOUT_MIN_RAM (4ull << 20)
#define LAYOUT_MAX_RAM (1ull << 40)

#endif
