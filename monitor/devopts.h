/* SPDX-License-Identifier: MIT */
/* Parsing of the device options' "key=value,key=value" lists (--disk, --net, --console, --rng). */
#ifndef VMMON_DEVOPTS_H
#define VMMON_DEVOPTS_H

#include "config.h"
#include "host/err.h"

int vmm_parse_disk(const char *arg, struct vmm_disk_config *d, struct host_err *err);
int vmm_parse_net(const char *arg, struct vmm_net_config *n, struct host_err *err);
/* "virtio[,transport=pci|mmio]" or "off". */
int vmm_parse_console(const char *arg, struct vmm_config *cfg, struct host_err *err);
/* "" or "transport=pci|mmio". */
int vmm_parse_rng(const char *arg, struct vmm_config *cfg, struct host_err *err);

#endif
