/* SPDX-License-Identifier: MIT */
#include "blk_req.h"

#include <string.h>

#define HDR_SIZE 16u /* type, reserved, sector */

uint8_t blk_req_status(enum blk_req_err err)
{
	return err == BLK_ERR_UNSUPPORTED ? VIRTIO_BLK_S_UNSUPP
	       : err == BLK_REQ_OK	  ? VIRTIO_BLK_S_OK
					  : VIRTIO_BLK_S_IOERR;
}

const char *blk_req_err_str(enum blk_req_err err)
{
	static const char *const names[] = {
		[BLK_REQ_OK] = "ok",
		[BLK_ERR_NO_STATUS] = "no status byte",
		[BLK_ERR_SHORT_HEADER] = "header shorter than 16 bytes",
		[BLK_ERR_LAYOUT] = "data where the request type has none",
		[BLK_ERR_ALIGN] = "data length not a non-zero multiple of 512",
		[BLK_ERR_RANGE] = "sectors beyond the capacity",
		[BLK_ERR_READONLY] = "write to a read-only disk",
		[BLK_ERR_SEGMENT] = "bad discard/write-zeroes segment",
		[BLK_ERR_TOO_MANY] = "too many data pieces",
		[BLK_ERR_UNSUPPORTED] = "unsupported request",
	};
	return (unsigned)err < sizeof(names) / sizeof(names[0]) ? names[err] : "unknown";
}

/* Copies n bytes starting `skip` bytes into the segments [first, last) into dst. Returns false
 * if the segments hold fewer bytes. A header may be split across descriptors (ANY_LAYOUT). */
static bool gather(const struct vq_chain *c, unsigned first, unsigned last, uint64_t skip,
		   void *dst, uint64_t n)
{
	uint8_t *out = dst;
	for (unsigned i = first; i < last && n; i++) {
		uint64_t len = c->seg[i].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		uint64_t take = len - skip < n ? len - skip : n;
		memcpy(out, c->seg[i].hva + skip, take);
		out += take;
		n -= take;
		skip = 0;
	}
	return n == 0;
}

/* Adds the bytes [skip, skip + n) of segments [first, last) to r->iov. */
static bool map_data(struct blk_req *r, const struct vq_chain *c, unsigned first, unsigned last,
		     uint64_t skip, uint64_t n)
{
	r->niov = 0;
	r->len = n;
	for (unsigned i = first; i < last && n; i++) {
		uint64_t len = c->seg[i].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (r->niov == BLK_MAX_IOV)
			return false;
		uint64_t take = len - skip < n ? len - skip : n;
		r->iov[r->niov++] =
			(struct iovec){.iov_base = c->seg[i].hva + skip, .iov_len = take};
		n -= take;
		skip = 0;
	}
	return true;
}

static bool in_range(const struct blk_limits *lim, uint64_t sector, uint64_t sectors)
{
	return sector <= lim->capacity && sectors <= lim->capacity - sector;
}

/* DISCARD and WRITE_ZEROES: one 16-byte segment after the header, nothing else. */
static enum blk_req_err parse_range(const struct vq_chain *c, const struct blk_limits *lim,
				    struct blk_req *r)
{
	struct virtio_blk_discard_write_zeroes seg;
	bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
	if (c->read_len != HDR_SIZE + sizeof(seg) || c->write_len != 1)
		return BLK_ERR_SEGMENT; /* max_discard_seg and max_write_zeroes_seg are 1 */
	gather(c, 0, c->nread, HDR_SIZE, &seg, sizeof(seg));
	uint32_t max = zeroes ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;
	if (seg.num_sectors == 0 || seg.num_sectors > max ||
	    !in_range(lim, seg.sector, seg.num_sectors))
		return BLK_ERR_SEGMENT;
	/* Only write-zeroes may unmap; other flag bits are reserved. */
	if (seg.flags & ~(uint32_t)(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0))
		return BLK_ERR_UNSUPPORTED;
	if (lim->readonly)
		return BLK_ERR_READONLY;
	r->range_sector = seg.sector;
	r->range_sectors = seg.num_sectors;
	r->unmap = seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return BLK_REQ_OK;
}

/* The status byte is the last writable byte of the chain. */
static uint8_t *find_status(const struct vq_chain *c)
{
	if (c->write_len == 0)
		return NULL;
	const struct vq_seg *last = &c->seg[c->nseg - 1];
	return last->hva + last->len - 1;
}

enum blk_req_err blk_req_parse(const struct vq_chain *c, const struct blk_limits *lim,
			       struct blk_req *r)
{
	struct virtio_blk_outhdr hdr;
	memset(r, 0, offsetof(struct blk_req, iov));
	r->niov = 0;
	r->status = find_status(c);
	if (!r->status)
		return BLK_ERR_NO_STATUS;
	if (c->read_len < HDR_SIZE || !gather(c, 0, c->nread, 0, &hdr, sizeof(hdr)))
		return BLK_ERR_SHORT_HEADER;
	r->type = hdr.type;
	r->sector = hdr.sector;
	uint64_t in_data = c->read_len - HDR_SIZE, out_data = c->write_len - 1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool write = hdr.type == VIRTIO_BLK_T_OUT;
		uint64_t len = write ? in_data : out_data;
		if ((write ? out_data : in_data) != 0)
			return BLK_ERR_LAYOUT;
		if (len == 0 || len % BLK_SECTOR)
			return BLK_ERR_ALIGN;
		if (!in_range(lim, hdr.sector, len / BLK_SECTOR))
			return BLK_ERR_RANGE;
		if (write && lim->readonly)
			return BLK_ERR_READONLY;
		bool ok = write ? map_data(r, c, 0, c->nread, HDR_SIZE, len)
				: map_data(r, c, c->nread, c->nseg, 0, len);
		return ok ? BLK_REQ_OK : BLK_ERR_TOO_MANY;
	}
	case VIRTIO_BLK_T_FLUSH:
		return in_data || out_data ? BLK_ERR_LAYOUT : BLK_REQ_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (in_data || out_data == 0)
			return BLK_ERR_LAYOUT;
		if (out_data > VIRTIO_BLK_ID_BYTES)
			out_data = VIRTIO_BLK_ID_BYTES;
		return map_data(r, c, c->nread, c->nseg, 0, out_data) ? BLK_REQ_OK
								      : BLK_ERR_TOO_MANY;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_range(c, lim, r);
	default:
		return BLK_ERR_UNSUPPORTED;
	}
}
