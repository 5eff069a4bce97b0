/* SPDX-License-Identifier: MIT */
/* blktest's state, shared by its two files (blktest.c, blkmix.c). */
#ifndef G_PROGRAMS_BLKTEST_H
#define G_PROGRAMS_BLKTEST_H

#include "programs/blkdev.h"
#include "runtime/program.h"

#define G_BLKTEST_MAX_QD     128
#define G_BLKTEST_MIX_SECTOR 4096 /* 2 MiB: after the pattern and the scratch range */
#define G_BLKTEST_MIX_BYTES  (16u << 20)
#define G_BLKTEST_BLOCK	     4096 /* default request size; bs= up to G_BLKTEST_MAX_BS */
#define G_BLKTEST_MAX_BS     131072
#define G_BLKTEST_MIN_BLOCKS 64

/* What the mix does (rw=): random reads and writes, one of them, or a sequential pass. */
enum g_blktest_rw { G_RW_MIX, G_RW_RANDREAD, G_RW_RANDWRITE, G_RW_READ, G_RW_WRITE };

struct g_blktest {
	unsigned int qd, seconds;
	enum g_blktest_rw rw;
	const char *rw_name;
	unsigned int bs;
	bool digest; /* digest=on: print what was written, for a host-side check */
	struct g_blkdev *dev;
};

/* Part (e): the random read/write mix, checked block by block. */
int g_blktest_mix(struct g_run *run, struct g_blktest *t);

#endif
