/* SPDX-License-Identifier: MIT */
#include "vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bufs.h"
#include "fault.h"

#define F_PROTOCOL (1ull << VHOST_USER_F_PROTOCOL_FEATURES)
#define BIT(n)	   (1ull << (n))

/* How a request carries fds and a ring index. */
enum fd_rule { FDS_NONE, FDS_ONE, FDS_VRING, FDS_REGIONS };
enum idx_rule { IDX_NONE, IDX_STATE, IDX_ADDR, IDX_U64 };

typedef int (*handler_fn)(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r);

struct request {
	const char *name;
	handler_fn handler;
	uint32_t min_size;
	uint8_t max_fds;
	bool needs_reply; /* the request has a reply body of its own */
	uint8_t fds;	  /* enum fd_rule */
	uint8_t idx;	  /* enum idx_rule */
};

uint64_t iop_vhost_protocol_features(const struct iop_dev *d)
{
	return BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	       d->ops->protocol_features;
}

/* ------------------------------------------------------------------ handlers --------------- */

static int reply_u64(struct iop_reply *r, uint64_t v)
{
	r->p.u64 = v;
	r->hdr.size = sizeof(r->p.u64);
	return 0;
}

static int get_features(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)m;
	return reply_u64(r, d->ops->features(d) | F_PROTOCOL);
}

static int set_features(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	uint64_t f = m->p.u64;
	if (f & ~(d->ops->features(d) | F_PROTOCOL))
		return -EINVAL; /* something we never offered */
	if (iop_vring_any_started(d) && (f ^ d->features) & ~BIT(26 /* VHOST_F_LOG_ALL */))
		return -EBUSY;
	d->features = f;
	d->features_set = true;
	return 0;
}

static int set_owner(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)d, (void)m, (void)r;
	return 0;
}

static int reset_owner(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)m, (void)r;
	/* Deprecated; the spec recommends ignoring it or disabling the rings: they stop. */
	iop_vring_stop_all(d);
	return 0;
}

static int get_protocol_features(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)m;
	return reply_u64(r, iop_vhost_protocol_features(d));
}

static int set_protocol_features(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	if (m->p.u64 & ~iop_vhost_protocol_features(d))
		return -EINVAL;
	d->protocol_features = m->p.u64;
	return 0;
}

static int get_queue_num(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)m;
	return reply_u64(r, d->ops->queue_num(d));
}

/* GET_CONFIG: the reply repeats offset/size/flags with the bytes; an error is an empty
 * reply (the spec's convention). */
static int get_config(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	const struct vhost_user_config *c = &m->p.config;
	if (c->offset > d->config_size || c->size > d->config_size - c->offset)
		return -EINVAL;
	memcpy(r->p.config.payload, (const uint8_t *)d->config + c->offset, c->size);
	r->p.config.offset = c->offset;
	r->p.config.size = c->size;
	r->p.config.flags = c->flags;
	r->hdr.size = (uint32_t)offsetof(struct vhost_user_config, payload) + c->size;
	return 0;
}

static int set_config(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	(void)d;
	/* Nothing is writable (no CONFIG_WCE); a migration restore (flags 1) is taken as the
	 * same device. */
	return m->p.config.flags == 1 ? 0 : -EPERM;
}

static bool packed_rings(const struct iop_dev *d)
{
	return d->features & (1ull << VIRTIO_F_RING_PACKED);
}

static void inflight_unmap(struct iop_dev *d)
{
	iop_fault_unwatch(d->inflight_watch);
	d->inflight_watch = -1;
	if (d->inflight_map)
		munmap(d->inflight_map, d->inflight_size);
	d->inflight_map = NULL;
	d->inflight_size = 0;
	d->inflight_queues = d->inflight_qsize = 0;
}

/* Makes the mapping p of size bytes the inflight region, in place of the one before; it is
 * watched like guest memory (fault.h). Returns 0, or -ENOSPC with p unmapped. */
static int inflight_take(struct iop_dev *d, void *p, uint64_t size, uint16_t nq, uint16_t qs)
{
	long page = sysconf(_SC_PAGESIZE);
	int watch = iop_fault_watch(p, (size + (uint64_t)page - 1) & ~((uint64_t)page - 1),
				    &d->mem_fault);
	if (watch < 0) {
		munmap(p, size);
		return watch;
	}
	inflight_unmap(d);
	d->inflight_map = p;
	d->inflight_size = size;
	d->inflight_watch = watch;
	d->inflight_queues = nq;
	d->inflight_qsize = qs;
	return 0;
}

/* The region's size for nq queues of qs entries, or 0 if the request is unreasonable. Its
 * layout follows the rings negotiated (front-ends set the features first: QEMU, vmmon). */
static uint64_t inflight_bytes(const struct iop_dev *d, uint16_t nq, uint16_t qs)
{
	if (nq == 0 || nq > d->nq || qs == 0 || qs > VQ_MAX_SIZE)
		return 0;
	return (uint64_t)nq * iop_inflight_queue_bytes(qs, packed_rings(d));
}

/* GET_INFLIGHT_FD: a fresh, formatted region each time (the front-end asks again after a
 * VM reset); the previous one is dropped. */
static int get_inflight_fd(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	const struct vhost_user_inflight *in = &m->p.inflight;
	uint64_t size = inflight_bytes(d, in->num_queues, in->queue_size);
	if (!size)
		return -EINVAL;
	if (iop_vring_any_started(d))
		return -EBUSY;
	int fd = memfd_create("ioproxy-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	void *p = MAP_FAILED;
	if (ftruncate(fd, (off_t)size) == 0)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	/* Its size may not change under our mapping. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	iop_inflight_format(p, in->num_queues, in->queue_size, packed_rings(d));
	int ret = inflight_take(d, p, size, in->num_queues, in->queue_size);
	if (ret) {
		close(fd);
		return ret;
	}
	r->p.inflight = (struct vhost_user_inflight){.mmap_size = size,
						     .mmap_offset = 0,
						     .num_queues = in->num_queues,
						     .queue_size = in->queue_size};
	r->hdr.size = sizeof(r->p.inflight);
	r->fd = fd;
	return 0;
}

/* SET_INFLIGHT_FD: the region comes back (after a reconnect, with what was in flight). */
static int set_inflight_fd(struct iop_dev *d, struct host_vu_msg *m, struct iop_reply *r)
{
	(void)r;
	const struct vhost_user_inflight *in = &m->p.inflight;
	uint64_t need = inflight_bytes(d, in->num_queues, in->queue_size), end;
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	if (!need || in->mmap_size < need || in->mmap_offset % (uint64_t)page ||
	    __builtin_add_overflow(in->mmap_offset, in->mmap_size, &end))
		return -EINVAL;
	/* As guest memory (mem.h): sealed against shrinking before its size is checked where it
	 * can be, and a fault on it survived where it cannot. */
	iop_mem_seal(m->fds[0]);
	if (fstat(m->fds[0], &st) < 0 || !S_ISREG(st.st_mode) || end > (uint64_t)st.st_size)
		return -EINVAL;
	if (iop_vring_any_started(d))
		return -EBUSY;
	void *p = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
		       (off_t)in->mmap_offset);
	if (p == MAP_FAILED)
		return -errno;
	return inflight_take(d, p, in->mmap_size, in->num_queues, in->queue_size);
}

/* ------------------------------------------------------------------ the table -------------- */

#define REQ(id, h, min, fds_max, reply, fd_rule, idx_rule)                                         \
	[VHOST_USER_##id] = {#id, h, min, fds_max, reply, fd_rule, idx_rule}

static const struct request requests[VHOST_USER_MAX] = {
	REQ(GET_FEATURES, get_features, 0, 0, true, FDS_NONE, IDX_NONE),
	REQ(SET_FEATURES, set_features, 8, 0, false, FDS_NONE, IDX_NONE),
	REQ(SET_OWNER, set_owner, 0, 0, false, FDS_NONE, IDX_NONE),
	REQ(RESET_OWNER, reset_owner, 0, 0, false, FDS_NONE, IDX_NONE),
	REQ(SET_MEM_TABLE, iop_vring_set_mem_table, 8, VHOST_USER_MEM_REGIONS, false, FDS_REGIONS,
	    IDX_NONE),
	REQ(SET_VRING_NUM, iop_vring_set_num, 8, 0, false, FDS_NONE, IDX_STATE),
	REQ(SET_VRING_ADDR, iop_vring_set_addr, 40, 0, false, FDS_NONE, IDX_ADDR),
	REQ(SET_VRING_BASE, iop_vring_set_base, 8, 0, false, FDS_NONE, IDX_STATE),
	REQ(GET_VRING_BASE, iop_vring_get_base, 8, 0, true, FDS_NONE, IDX_STATE),
	REQ(SET_VRING_KICK, iop_vring_set_fd, 8, 1, false, FDS_VRING, IDX_U64),
	REQ(SET_VRING_CALL, iop_vring_set_fd, 8, 1, false, FDS_VRING, IDX_U64),
	REQ(SET_VRING_ERR, iop_vring_set_fd, 8, 1, false, FDS_VRING, IDX_U64),
	REQ(GET_PROTOCOL_FEATURES, get_protocol_features, 0, 0, true, FDS_NONE, IDX_NONE),
	REQ(SET_PROTOCOL_FEATURES, set_protocol_features, 8, 0, false, FDS_NONE, IDX_NONE),
	REQ(GET_QUEUE_NUM, get_queue_num, 0, 0, true, FDS_NONE, IDX_NONE),
	REQ(SET_VRING_ENABLE, iop_vring_set_enable, 8, 0, false, FDS_NONE, IDX_STATE),
	REQ(GET_CONFIG, get_config, 12, 0, true, FDS_NONE, IDX_NONE),
	REQ(SET_CONFIG, set_config, 12, 0, false, FDS_NONE, IDX_NONE),
	REQ(GET_INFLIGHT_FD, get_inflight_fd, 24, 0, true, FDS_NONE, IDX_NONE),
	REQ(SET_INFLIGHT_FD, set_inflight_fd, 24, 1, false, FDS_ONE, IDX_NONE),
};

/* Every check a message passes before its handler runs. Returns 0 or -errno. */
static int validate(const struct iop_dev *d, const struct request *req, const struct host_vu_msg *m)
{
	const struct vhost_user_header *h = &m->hdr;
	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    (h->flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	if (h->size < req->min_size || m->nfds > req->max_fds)
		return -EINVAL;
	switch (req->fds) {
	case FDS_NONE:
		if (m->nfds)
			return -EINVAL;
		break;
	case FDS_ONE:
		if (m->nfds != 1)
			return -EINVAL;
		break;
	case FDS_VRING: /* the no-fd bit says whether one comes */
		if (m->p.u64 & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
			return -EINVAL;
		if (m->nfds != ((m->p.u64 & VHOST_USER_VRING_NOFD_MASK) ? 0u : 1u))
			return -EINVAL;
		break;
	case FDS_REGIONS: /* one fd per region, and the size must cover the regions */
		if (m->p.memory.nregions > VHOST_USER_MEM_REGIONS ||
		    h->size < 8 + m->p.memory.nregions * sizeof(struct vhost_user_mem_region) ||
		    m->nfds != m->p.memory.nregions)
			return -EINVAL;
		break;
	}
	if ((h->request == VHOST_USER_GET_CONFIG || h->request == VHOST_USER_SET_CONFIG) &&
	    (m->p.config.size > VHOST_USER_CONFIG_MAX ||
	     h->size < offsetof(struct vhost_user_config, payload) + m->p.config.size))
		return -EINVAL;
	uint64_t idx = 0;
	switch (req->idx) {
	case IDX_NONE:
		return 0;
	case IDX_STATE:
		idx = m->p.state.index;
		break;
	case IDX_ADDR:
		idx = m->p.addr.index;
		break;
	case IDX_U64:
		idx = m->p.u64 & VHOST_USER_VRING_IDX_MASK;
		break;
	}
	return idx < d->nq ? 0 : -ERANGE;
}

static int send_reply(struct iop_dev *d, const struct host_vu_msg *m, struct iop_reply *r)
{
	r->hdr.request = m->hdr.request;
	r->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
	int ret = host_vu_send(d->conn_fd, &r->hdr, &r->p, r->fd >= 0 ? &r->fd : NULL,
			       r->fd >= 0 ? 1 : 0);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	return ret;
}

static const char *req_name(uint32_t code)
{
	return code < VHOST_USER_MAX && requests[code].name ? requests[code].name : "unknown";
}

int iop_vhost_dispatch(struct iop_dev *d, struct host_vu_msg *m)
{
	uint32_t code = m->hdr.request;
	const struct request *req = code < VHOST_USER_MAX ? &requests[code] : NULL;
	struct iop_reply r = {.fd = -1};
	bool ack = m->hdr.flags & VHOST_USER_NEED_REPLY_MASK;
	int ret = req && req->handler ? validate(d, req, m) : -ENOSYS;
	d->msgs++;
	if (!ret)
		ret = req->handler(d, m, &r);
	host_vu_close_fds(m); /* handlers keep what they take by setting it to -1 */
	if (ret) {
		d->refused++;
		fprintf(stderr, "ioproxy: %s: %s (%u) refused: %s\n", d->name, req_name(code), code,
			strerror(-ret));
		if (r.fd >= 0)
			close(r.fd);
		r = (struct iop_reply){.fd = -1};
		if (req && req->needs_reply) /* an empty body says "error" */
			return send_reply(d, m, &r);
		if (ack) {
			reply_u64(&r, (uint64_t)-ret);
			return send_reply(d, m, &r);
		}
		return 0;
	}
	if (req->needs_reply)
		return send_reply(d, m, &r);
	if (ack) {
		reply_u64(&r, 0);
		return send_reply(d, m, &r);
	}
	return 0;
}

int iop_vhost_serve(struct iop_dev *d)
{
	struct host_vu_msg m;
	int ret = host_vu_recv(d->conn_fd, &m, HOST_VU_MSG_TIMEOUT_MS);
	if (ret == -EMSGSIZE || ret == -EBADMSG || ret == -ETIMEDOUT) {
		d->refused++;
		fprintf(stderr, "ioproxy: %s: malformed message (%s): closing the connection\n",
			d->name, strerror(-ret));
		/* A reply is due if the header says so; the stream cannot be read any further. */
		if (m.hdr.request < VHOST_USER_MAX && ((m.hdr.flags & VHOST_USER_NEED_REPLY_MASK) ||
						       requests[m.hdr.request].needs_reply)) {
			struct iop_reply r = {.fd = -1};
			if (!requests[m.hdr.request].needs_reply)
				reply_u64(&r, (uint64_t)-ret);
			send_reply(d, &m, &r);
		}
	}
	if (ret)
		return ret;
	return iop_vhost_dispatch(d, &m);
}

void iop_vhost_disconnect(struct iop_dev *d)
{
	iop_vring_stop_all(d);
	iop_vring_reset_all(d);
	iop_bufs_forget(d); /* before the mappings go */
	iop_mem_clear(&d->mem);
	inflight_unmap(d); /* the front-end keeps its fd and hands it back */
	d->features = d->protocol_features = 0;
	d->features_set = false;
	if (d->conn_fd >= 0)
		close(d->conn_fd);
	d->conn_fd = -1;
	/* Nothing of that front-end's is mapped any more: the next one starts clean. */
	atomic_store(&d->mem_fault, false);
}
