/* SPDX-License-Identifier: MIT */
/*
 * The host bridge as a PC firmware expects it (--firmware): the Intel 82441FX of the i440FX
 * chipset (8086:1237, revision 02), with QEMU's subsystem IDs (1af4:1100), without which
 * SeaBIOS does not believe it runs on a virtual machine and ignores fw_cfg. Its PAM registers
 * (0x59-0x5F), which on the chip route 0xC0000-0xFFFFF to ROM or RAM, are plain storage here:
 * that range is always guest RAM, holding a copy of the firmware (see boot/firmware.c), so the
 * firmware's "make the BIOS writable, copy it, lock it" sequence finds what it expects. No SMRAM
 * control (SMM is not emulated), no DRAM row registers.
 */
#ifndef VMMON_DEV_I440FX_H
#define VMMON_DEV_I440FX_H

#include "pci.h"

#define I440FX_VENDOR	   0x8086
#define I440FX_DEVICE	   0x1237
#define I440FX_REVISION	   0x02
#define I440FX_PAM0	   0x59 /* PAM0 (0xF0000-0xFFFFF) in its high nibble */
#define I440FX_NR_PAM	   7	/* PAM0-PAM6 */
#define QEMU_SUBSYS_VENDOR 0x1af4
#define QEMU_SUBSYS_ID	   0x1100

/* Re-initialises the host bridge's function (00:00.0) as the 82441FX, PAM registers zero. */
void i440fx_init(struct pci_dev *bridge);

#endif
