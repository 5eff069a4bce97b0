/* SPDX-License-Identifier: MIT */
/* Read-only mappings of the files the user names (kernel, initramfs). */
#ifndef VMMON_FILE_H
#define VMMON_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "host/err.h"

struct vmm_file {
	const uint8_t *data;
	size_t size;
};

/* Maps a regular, non-empty file; `what` names it in errors ("--kernel"). */
int vmm_file_map(struct vmm_file *f, const char *path, const char *what, struct host_err *err);
void vmm_file_unmap(struct vmm_file *f);

#endif
