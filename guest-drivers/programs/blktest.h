/* SPDX-License-Identifier: MIT */
/* blktest's state, shared by its two files (blktest.c, blkmix.c). */
#ifndef G_PROGRAMS_BLKTEST_H
#define G_PROGRAMS_BLKTEST_H

#include "programs/blkdev.h"
#include "runtime/program.h"

#define G_BLKTEST_MAX_QD     128
#define G_BLKTEST_MAX_DISKS  G_BLKDEV_WAIT_MAX
#define G_BLKTEST_MIX_SECTOR 4096 /* 2 MiB: after the pattern and the scratch range */
#define G_BLKTEST_MIX_BYTES  (16u << 20)
#define G_BLKTEST_BLOCK	     4096 /* default request size; bs= up to G_BLKTEST_MAX_BS */
#define G_BLKTEST_MAX_BS     131072
#define G_BLKTEST_MIN_BLOCKS 64

/* What the mix does (rw=): random reads and writes, one of them, or a sequential pass. */
enum g_blktest_rw { G_RW_MIX, G_RW_RANDREAD, G_RW_RANDWRITE, G_RW_READ, G_RW_WRITE };

/* One disk blktest drives (disks=N: the first N virtio-blk devices). */
struct g_blktest_disk {
	struct g_blkdev *dev;
	unsigned int index;
	char name[8]; /* its lines' prefix: "blk", or "blk0", "blk1", ... with disks= above 1 */
	char tag[10]; /* "", or "blk1: " with disks= above 1: before its failures and "time:"
		       * figures */
};

struct g_blktest {
	unsigned int qd, seconds;
	enum g_blktest_rw rw;
	const char *rw_name;
	unsigned int bs;
	bool digest; /* digest=on: print what was written, for a host-side check */
	unsigned int ndisks;
	struct g_blktest_disk disk[G_BLKTEST_MAX_DISKS];
};

/* Part (e): the random read/write mix on every disk at once, checked block by block. */
int g_blktest_mix(struct g_run *run, struct g_blktest *t);

/* g_run_fail with the disk's tag before the reason. */
int g_blktest_fail(struct g_run *run, const struct g_blktest_disk *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
