/* SPDX-License-Identifier: MIT */
/* The PC platform around the guest: legacy devices on the buses and the firmware tables. */
#ifndef VMMON_PLATFORM_H
#define VMMON_PLATFORM_H

#include "host/err.h"

struct vmm_vm;

/* Initialises the platform devices and registers their traps. */
int vmm_platform_init(struct vmm_vm *vm, struct host_err *err);
void vmm_platform_destroy(struct vmm_vm *vm);
/* Writes the BIOS data area fields and the MP table into guest RAM. */
int vmm_platform_write_tables(struct vmm_vm *vm, struct host_err *err);
/* With --firmware, after the devices: fills fw_cfg (memory map, CPUs, boot order, console) and
 * the CMOS boot bytes (platform_fw.c). */
int vmm_platform_firmware(struct vmm_vm *vm, struct host_err *err);

#endif
