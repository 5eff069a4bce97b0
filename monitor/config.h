/* SPDX-License-Identifier: MIT */
/* What the command line asks for: filled by cli.c, read by the VM. */
#ifndef VMMON_CONFIG_H
#define VMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"

#define VMM_DEFAULT_CPUS   1
#define VMM_DEFAULT_MEMORY (512ull << 20)

struct vmm_config {
	const char *kernel;
	const char *initramfs; /* NULL: none */
	const char *cmdline;   /* never NULL */
	unsigned cpus;
	uint64_t memory;
	enum vmm_serial_mode serial;
	const char *serial_path;
	bool stats; /* print exit counts on stderr when the VM ends */
};

#endif
