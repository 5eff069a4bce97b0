/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request parsing (virtio 1.2, 5.2.6) as a pure function of a validated chain, the
 * disk's capacity and limits: what to do, on which bytes, and where the status byte goes. Every
 * way a request can be malformed is its own error, and even a malformed request says where its
 * status goes (when it has one) so the device completes it. Shared by vmmon's and ioproxy's
 * block devices; hosted only (the guest does not build it).
 */
#ifndef VMMON_RINGS_BLK_REQ_H
#define VMMON_RINGS_BLK_REQ_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtq.h"

#define BLK_SECTOR  512u
#define BLK_MAX_IOV 256

struct blk_limits {
	uint64_t capacity; /* in 512-byte sectors */
	bool readonly;
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
};

enum blk_req_err {
	BLK_REQ_OK = 0,
	BLK_ERR_NO_STATUS,    /* no writable byte for the status: complete with length 0 */
	BLK_ERR_SHORT_HEADER, /* fewer than 16 readable bytes */
	BLK_ERR_LAYOUT,	      /* readable or writable data where the type has none */
	BLK_ERR_ALIGN,	      /* data length zero or not a multiple of 512 */
	BLK_ERR_RANGE,	      /* sectors past the capacity, or overflowing */
	BLK_ERR_READONLY,     /* a write to a read-only disk */
	BLK_ERR_SEGMENT,      /* a discard/write-zeroes segment that is malformed or too large */
	BLK_ERR_TOO_MANY,     /* more data pieces than BLK_MAX_IOV */
	BLK_ERR_UNSUPPORTED,  /* an unknown type, or flags we do not implement */
};

struct blk_req {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint64_t sector;
	uint8_t *status; /* where the status byte goes, NULL if nowhere */
	/* Data (IN: where to read into; OUT: what to write; GET_ID: where the ID goes). */
	struct iovec iov[BLK_MAX_IOV];
	unsigned niov;
	uint64_t len; /* bytes of data */
	/* DISCARD and WRITE_ZEROES: the one range (max_*_seg is 1). */
	uint64_t range_sector;
	uint32_t range_sectors;
	bool unmap;
};

/* Fills r from chain c. Returns BLK_REQ_OK, or the error (with r->status set if possible); the
 * caller completes an erroneous request with blk_req_status(err). */
enum blk_req_err blk_req_parse(const struct vq_chain *c, const struct blk_limits *lim,
			       struct blk_req *r);
/* The status byte for an error: UNSUPP for what we do not implement, IOERR otherwise. */
uint8_t blk_req_status(enum blk_req_err err);
const char *blk_req_err_str(enum blk_req_err err);

#endif
