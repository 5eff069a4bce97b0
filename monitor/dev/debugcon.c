/* SPDX-License-Identifier: MIT */
#include "debugcon.h"

#include <errno.h>

void debugcon_init(struct debugcon *d, void (*out)(void *, uint8_t), void *ctx)
{
	d->out = out;
	d->ctx = ctx;
}

int debugcon_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct debugcon *d = dev;
	if (off != 0 || len != 1)
		return -EINVAL;
	if (is_write)
		d->out(d->ctx, data[0]);
	else
		data[0] = DEBUGCON_READBACK;
	return 0;
}
