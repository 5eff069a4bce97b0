/* SPDX-License-Identifier: MIT */
/* blktest's state, shared by its two files (blktest.c, blkmix.c). */
#ifndef G_PROGRAMS_BLKTEST_H
#define G_PROGRAMS_BLKTEST_H

#include "drivers/virtio_blk.h"
#include "programs/vdev.h"
#include "runtime/program.h"

#define G_BLKTEST_MAX_QD     128
#define G_BLKTEST_MIX_SECTOR 4096 /* 2 MiB: after the pattern and the scratch range */
#define G_BLKTEST_MIX_BYTES  (16u << 20)
#define G_BLKTEST_BLOCK	     4096
#define G_BLKTEST_MIN_BLOCKS 64

struct g_blktest {
	unsigned int qd, seconds;
	struct g_vprog prog;
	struct g_vblk blk;
};

/* Part (e): the random read/write mix, checked block by block. */
int g_blktest_mix(struct g_run *run, struct g_blktest *t);

#endif
