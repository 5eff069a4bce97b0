/* SPDX-License-Identifier: MIT */
/* The boot CPU's register state at the entry of each boot protocol. */
#ifndef VMMON_BOOT_REGS_H
#define VMMON_BOOT_REGS_H

#include "boot.h"

/* Loads the entry state into the vCPU (KVM_SET_SREGS, KVM_SET_REGS). Returns 0 or -errno. */
int vmm_boot_set_regs(int vcpu_fd, const struct vmm_boot_entry *entry);

#endif
