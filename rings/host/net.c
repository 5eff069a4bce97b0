/* SPDX-License-Identifier: MIT */
#include "net.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_SEG		64
#define RX_LINK		16 /* reads posted per hard-linked chain */
#define TX_BATCH	32
#define MIN_RX		(HOST_NET_HDR_LEN + 1514) /* header and a full Ethernet frame without FCS */
#define ATTACH_TRIES	20
#define ATTACH_PAUSE_NS 50000000

/* ------------------------------------------------------------ the tap ----------------------- */

/* Opens pair p's queue of the tap named in the options. */
static int open_named(struct host_tap *t, unsigned p, struct host_err *err)
{
	const struct host_tap_opts *o = &t->opts;
	t->fd[p] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd[p] < 0)
		return host_err_set(err, errno, "%s tap=%s: cannot open /dev/net/tun: %s",
				    t->opt_name, o->name, strerror(errno));
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	if (t->pairs > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	memcpy(ifr.ifr_name, o->name, sizeof(o->name)); /* NUL-terminated, <= 16 */
	/* EBUSY: the tap's last user may have exited with an io_uring whose teardown, which runs
	 * after the process is gone, still holds the queue for a moment; wait up to a second. */
	int ret = 0;
	for (int tries = 0; tries < ATTACH_TRIES; tries++) {
		ret = ioctl(t->fd[p], TUNSETIFF, &ifr) < 0 ? errno : 0;
		if (ret != EBUSY)
			break;
		nanosleep(&(struct timespec){.tv_nsec = ATTACH_PAUSE_NS}, NULL);
	}
	if (ret)
		return host_err_set(err, ret, "%s tap=%s: cannot attach: %s%s", t->opt_name,
				    o->name, strerror(ret),
				    ret == EPERM ? " (create it first: ip tuntap add NAME mode tap "
						   "user $USER)"
				    : ret == EINVAL && t->pairs > 1
					    ? " (queues=N needs a tap made with multi_queue)"
				    : ret == EBUSY ? " (another process has it attached)"
						   : "");
	return 0;
}

int host_tap_check_fd(int fd, unsigned pairs, char *name, const char *what, struct host_err *err)
{
	struct ifreq ifr = {0};
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return host_err_set(err, EINVAL, "%s: descriptor %d is not a tap's queue (%s)",
				    what, fd, strerror(errno));
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	/* IFF_NO_PI cannot be checked: TUNGETIFF reports that bit as IFF_NOFILTER (no socket
	 * filter attached), whatever the tap was opened with. */
	const char *missing = !(ifr.ifr_flags & IFF_TAP)	? "IFF_TAP (it is a tun)"
			      : !(ifr.ifr_flags & IFF_VNET_HDR) ? "IFF_VNET_HDR"
			      : pairs > 1 && !(ifr.ifr_flags & IFF_MULTI_QUEUE)
				      ? "IFF_MULTI_QUEUE (one queue a pair)"
				      : NULL;
	if (missing)
		return host_err_set(err, EINVAL, "%s: tap %s was opened without %s", what, name,
				    missing);
	return 0;
}

/* Pair p's queue from the descriptor the client passed: a dup, so that the owner's stays open
 * for the next boot. */
static int open_passed(struct host_tap *t, unsigned p, struct host_err *err)
{
	const struct host_tap_opts *o = &t->opts;
	char name[IFNAMSIZ], what[48];
	snprintf(what, sizeof(what), "%s fds[%u]", t->opt_name, p);
	int ret = host_tap_check_fd(o->fd[p], t->pairs, name, what, err);
	if (ret)
		return ret;
	if (p && strcmp(name, t->opts.name))
		return host_err_set(err, EINVAL, "%s: a queue of tap %s, fds[0] is of %s", what,
				    name, t->opts.name);
	memcpy(t->opts.name, name, sizeof(name));
	t->fd[p] = fcntl(o->fd[p], F_DUPFD_CLOEXEC, 3);
	if (t->fd[p] < 0)
		return host_err_set(err, errno, "%s: cannot dup: %s", what, strerror(errno));
	/* As a tap opened by name is: blocking. Some kernels' io_uring ends a read on a
	 * non-blocking file with EAGAIN rather than waiting for a frame (recent ones wait). The
	 * flag is the open file's, shared with the sender, who gave the tap away. */
	int fl = fcntl(t->fd[p], F_GETFL);
	if (fl < 0 || ((fl & O_NONBLOCK) && fcntl(t->fd[p], F_SETFL, fl & ~O_NONBLOCK) < 0))
		return host_err_set(err, errno, "%s: cannot make it blocking: %s", what,
				    strerror(errno));
	return 0;
}

/* Either way the tap was opened: the header, no offloads, and the queue detached until the
 * driver uses its pair. */
static int attach_one(struct host_tap *t, unsigned p, struct host_err *err)
{
	int ret = t->opts.nfds ? open_passed(t, p, err) : open_named(t, p, err);
	if (ret)
		return ret;
	int hdr = (int)HOST_NET_HDR_LEN;
	if (ioctl(t->fd[p], TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(t->fd[p], TUNSETOFFLOAD, 0) < 0)
		return host_err_set(err, errno, "%s tap=%s: cannot set the virtio-net header: %s",
				    t->opt_name, t->opts.name, strerror(errno));
	if (t->pairs > 1)
		host_tap_attach(t, p, false);
	return 0;
}

int host_tap_open(struct host_tap *t, const char *opt_name, const struct host_tap_opts *o,
		  struct host_err *err)
{
	memset(t, 0, sizeof(*t));
	t->opts = *o;
	t->opt_name = opt_name;
	t->pairs = o->queues ? o->queues : 1;
	for (unsigned p = 0; p < HOST_NET_MAX_PAIRS; p++)
		t->fd[p] = -1;
	if (t->pairs > HOST_NET_MAX_PAIRS)
		return host_err_set(err, EINVAL, "%s: queues=%u: at most %d", opt_name, t->pairs,
				    HOST_NET_MAX_PAIRS);
	if (o->nfds && o->nfds != t->pairs)
		return host_err_set(err, EINVAL, "%s: %u tap descriptors for %u queue pairs",
				    opt_name, o->nfds, t->pairs);
	for (unsigned p = 0; p < t->pairs; p++) {
		int ret = attach_one(t, p, err);
		if (ret) {
			host_tap_close(t);
			return ret;
		}
	}
	return 0;
}

void host_tap_close(struct host_tap *t)
{
	for (unsigned p = 0; p < HOST_NET_MAX_PAIRS; p++) {
		if (t->fd[p] >= 0)
			close(t->fd[p]);
		t->fd[p] = -1;
	}
}

int host_tap_attach(struct host_tap *t, unsigned pair, bool on)
{
	if (pair >= t->pairs || t->pairs < 2)
		return 0; /* a single-queue tap is always attached */
	struct ifreq ifr = {.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE};
	if (ioctl(t->fd[pair], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		return -errno; /* EINVAL: already in that state */
	return 0;
}

int host_tap_set_hdr_len(struct host_tap *t, unsigned pair, unsigned len)
{
	int hdr = (int)len;
	if (pair >= t->pairs || ioctl(t->fd[pair], TUNSETVNETHDRSZ, &hdr) < 0)
		return pair >= t->pairs ? -EINVAL : -errno;
	return 0;
}

void host_net_config(const struct host_mac *mac, unsigned pairs, unsigned index,
		     struct virtio_net_config *c)
{
	/* Without mac=, QEMU's convention: 52:54:00:12:34:56, the last byte counting devices. */
	static const uint8_t dflt[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	memset(c, 0, sizeof(*c));
	memcpy(c->mac, mac->set ? mac->addr : dflt, 6);
	if (!mac->set)
		c->mac[5] = (uint8_t)(c->mac[5] + index);
	c->status = VIRTIO_NET_S_LINK_UP;
	c->max_virtqueue_pairs = (uint16_t)pairs;
}

/* ------------------------------------------------------------ a queue ----------------------- */

struct host_net_req {
	struct host_op op;
	struct host_net_queue *q;
	unsigned index;
	bool posted;
	struct vq_chain chain;
	struct vq_seg seg[MAX_SEG];
	struct iovec iov[MAX_SEG];
};

/* The tap fills the 10-byte legacy header; num_buffers (virtio 1.x) is the device's: 1. */
static void set_num_buffers(const struct vq_chain *c)
{
	uint16_t one = 1;
	unsigned off = offsetof(struct virtio_net_hdr_v1, num_buffers);
	for (unsigned i = c->nread, at = 0; i < c->nseg; at += c->seg[i].len, i++)
		for (unsigned k = 0; k < sizeof(one); k++)
			if (off + k >= at && off + k < at + c->seg[i].len)
				c->seg[i].hva[off + k - at] = ((uint8_t *)&one)[k];
}

static void cancel_posted(struct host_net_queue *q, struct host_uring *u)
{
	for (unsigned i = 0; i < q->num; i++) {
		if (!q->slots[i].posted)
			continue;
		/* No completion target: nothing to account for if the queue goes first. */
		struct io_uring_sqe *sqe = host_uring_sqe(u, NULL);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&q->slots[i].op, 0);
	}
}

static void io_done(struct host_uring *u, struct host_op *op, int res)
{
	struct host_net_req *r = container_of(op, struct host_net_req, op);
	struct host_net_queue *q = r->q;
	q->posted--;
	r->posted = false;
	if (res > 0) {
		q->frames++;
		q->bytes += (unsigned)res > q->hdr_len ? (unsigned)res - q->hdr_len : 0;
		if (q->rx && q->hdr_len == HOST_NET_HDR_LEN)
			set_num_buffers(&r->chain);
	} else if (res != -ECANCELED) {
		q->dropped++;
	}
	/* The next read of a hard-linked chain started as this one ended: cancel it too. */
	if (q->cancelling && q->posted)
		cancel_posted(q, u);
	q->free[q->nfree++] = r->index;
	/* Last: the caller may tear the queue down once its count of requests says so. */
	q->ops->complete(q, &r->chain, q->rx && res > 0 ? (uint32_t)res : 0, true);
}

int host_net_queue_init(struct host_net_queue *q, int fd, bool rx, unsigned num, unsigned hdr_len,
			const struct host_net_queue_ops *ops, void *priv)
{
	*q = (struct host_net_queue){
		.fd = fd, .rx = rx, .hdr_len = hdr_len, .ops = ops, .priv = priv, .num = num};
	q->slots = calloc(num, sizeof(*q->slots));
	q->free = calloc(num, sizeof(*q->free));
	if (!q->slots || !q->free) {
		host_net_queue_destroy(q);
		return -ENOMEM;
	}
	for (unsigned k = 0; k < num; k++) {
		q->slots[k] = (struct host_net_req){.op.fn = io_done, .q = q, .index = k};
		q->free[k] = num - 1 - k;
	}
	q->nfree = num;
	return 0;
}

void host_net_queue_destroy(struct host_net_queue *q)
{
	free(q->slots);
	free(q->free);
	q->slots = NULL;
	q->free = NULL;
	q->nfree = q->num = q->posted = 0;
}

unsigned host_net_queue_busy(const struct host_net_queue *q)
{
	return q->posted;
}

bool host_net_queue_wants_run(const struct host_net_queue *q)
{
	if (q->cancelling || !q->num)
		return false;
	return !q->posted && (q->rx || (q->stalled && q->nfree));
}

/* Between rounds of cancels while reads remain (net.h). */
#define CANCEL_RETRY_NS 10000000

void host_net_queue_cancel(struct host_net_queue *q, struct host_uring *u)
{
	if (!q->posted)
		return;
	/* Seen in the soak: a stop that waited forever on receives whose cancels all missed
	 * (a read that started after its round of cancels went out). */
	uint64_t now = host_now_ns();
	if (q->cancelling && now - q->cancel_ns < CANCEL_RETRY_NS)
		return;
	q->cancelling = true;
	q->cancel_ns = now;
	cancel_posted(q, u);
}

/* Takes up to n chains into free slots; returns how many, or -EIO. */
static int take(struct host_net_queue *q, struct host_net_req **out, unsigned n)
{
	struct vq_chain c[TX_BATCH > RX_LINK ? TX_BATCH : RX_LINK];
	if (n > q->nfree)
		n = q->nfree;
	for (unsigned i = 0; i < n; i++) {
		out[i] = &q->slots[q->free[q->nfree - 1 - i]];
		c[i] = (struct vq_chain){.seg = out[i]->seg, .max_seg = MAX_SEG};
	}
	int got = n ? q->ops->pop(q, c, n) : 0;
	if (got < 0 || (unsigned)got > n)
		return -EIO;
	q->nfree -= (unsigned)got;
	for (int i = 0; i < got; i++)
		out[i]->chain = c[i];
	return got;
}

static bool usable(const struct host_net_queue *q, const struct vq_chain *c)
{
	if (c->err)
		return false;
	if (q->rx)
		return !c->nread && c->write_len >= MIN_RX;
	return !c->write_len && c->read_len > q->hdr_len;
}

/* Queues a read or write of r, hard-linked after *prev so the tap sees them in order. */
static void post(struct host_net_queue *q, struct host_uring *u, struct host_net_req *r,
		 struct io_uring_sqe **prev)
{
	const struct vq_chain *c = &r->chain;
	for (unsigned i = 0; i < c->nseg; i++)
		r->iov[i] = (struct iovec){.iov_base = c->seg[i].hva, .iov_len = c->seg[i].len};
	struct io_uring_sqe *sqe = host_uring_sqe(u, &r->op);
	if (q->rx)
		io_uring_prep_readv(sqe, q->fd, r->iov, c->nseg, 0);
	else
		io_uring_prep_writev(sqe, q->fd, r->iov, c->nseg, 0);
	if (*prev)
		(*prev)->flags |= IOSQE_IO_HARDLINK; /* a short read does not break the chain */
	*prev = sqe;
	r->posted = true;
	q->posted++;
}

int host_net_queue_run(struct host_net_queue *q, struct host_uring *u)
{
	struct host_net_req *r[TX_BATCH > RX_LINK ? TX_BATCH : RX_LINK];
	unsigned want = q->rx ? RX_LINK : TX_BATCH;
	q->stalled = false;
	if (q->cancelling || (q->rx && q->posted))
		return 0; /* the posted chain must run out first */
	if (q->posted) {
		/* Transmit: the batch in the kernel goes first. io_uring may run two batches at
		 * once on its workers, and frames must reach the tap in ring order. */
		q->stalled = true;
		return 0;
	}
	for (;;) {
		int got = take(q, r, want);
		if (got < 0)
			return -EIO;
		struct io_uring_sqe *prev = NULL;
		for (int i = 0; i < got; i++) {
			if (usable(q, &r[i]->chain)) {
				post(q, u, r[i], &prev);
				continue;
			}
			q->bad++; /* not a usable buffer: handed back empty */
			q->free[q->nfree++] = r[i]->index;
			q->ops->complete(q, &r[i]->chain, 0, false);
		}
		if (q->rx && q->posted)
			return 0;
		if ((unsigned)got < want) {
			q->stalled = !q->nfree;
			return q->nfree ? 1 : 0;
		}
	}
}

/* ------------------------------------------------------------ frames without rings --------- */

void host_net_port_init(struct host_net_port *p, int fd, unsigned hdr_len)
{
	/* The tap's header is 10 or 12 bytes; a frame has room for 12. */
	*p = (struct host_net_port){
		.fd = fd, .hdr_len = hdr_len < HOST_NET_HDR_LEN ? hdr_len : HOST_NET_HDR_LEN};
}

static void frame_done(struct host_uring *u, struct host_op *op, int res);

void host_net_frame_init(struct host_net_frame *f, host_net_frame_done_fn *done, void *priv)
{
	memset(f, 0, sizeof(*f));
	f->op.fn = frame_done;
	f->done = done;
	f->priv = priv;
	f->niov = 1;
}

int host_net_frame_set(struct host_net_frame *f, const struct iovec *iov, unsigned n)
{
	if (n > HOST_NET_FRAME_IOV)
		return -EINVAL;
	if (f->posted)
		return -EBUSY;
	memcpy(&f->iov[1], iov, n * sizeof(*iov));
	f->niov = 1 + n;
	return 0;
}

unsigned host_net_port_busy(const struct host_net_port *p)
{
	return p->posted + p->tx_waiting;
}

static void port_cancel_all(struct host_net_port *p, struct host_uring *u)
{
	/* Every request on the tap's descriptor: the port owns it alone. No completion target. */
	struct io_uring_sqe *sqe = host_uring_sqe(u, NULL);
	io_uring_prep_cancel_fd(sqe, p->fd, IORING_ASYNC_CANCEL_ALL);
}

static void frames_post(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
			unsigned n, bool rx);

/* The writes that waited for the batch before them, as one batch. */
static void send_waiting(struct host_net_port *p, struct host_uring *u)
{
	struct host_net_frame *batch[64];
	while (p->tx_head && !p->tx_in_kernel) {
		unsigned n = 0;
		for (; p->tx_head && n < sizeof(batch) / sizeof(batch[0]); n++) {
			batch[n] = p->tx_head;
			p->tx_head = p->tx_head->next;
		}
		if (!p->tx_head)
			p->tx_tail = NULL;
		p->tx_waiting -= n;
		frames_post(p, u, batch, n, false);
	}
}

static void frame_done(struct host_uring *u, struct host_op *op, int res)
{
	struct host_net_frame *f = container_of(op, struct host_net_frame, op);
	struct host_net_port *p = f->port;
	f->posted = false;
	p->posted--;
	if (!f->rx && !--p->tx_in_kernel && !p->cancelling)
		send_waiting(p, u);
	int len = res;
	if (res >= 0 && (unsigned)res < p->hdr_len)
		len = -EIO; /* not even a header: nothing the tap would send */
	else if (res >= 0)
		len = res - (int)p->hdr_len;

	if (len >= 0)
		f->rx ? p->rx_frames++ : p->tx_frames++;
	else if (len != -ECANCELED)
		p->errors++;
	/* A hard-linked read after a cancelled one started as it ended: cancel it too. */
	if (p->cancelling && p->posted)
		port_cancel_all(p, u);
	else if (!p->posted)
		p->cancelling = false;
	/* Last: the caller may post the frame again. */
	f->done(f, len);
}

/* Checks that f[0..n) can all be posted: none is in the kernel or twice in the batch (nothing
 * is posted otherwise). */
static int frames_ready(const struct host_net_port *p, struct host_net_frame **f, unsigned n)
{
	if (p->cancelling)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++) {
		if (f[i]->posted)
			return -EBUSY;
		for (unsigned k = 0; k < i; k++)
			if (f[k] == f[i])
				return -EBUSY;
	}
	return 0;
}

static void frames_post(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
			unsigned n, bool rx)
{
	struct io_uring_sqe *prev = NULL;
	for (unsigned i = 0; i < n; i++) {
		struct host_net_frame *fr = f[i];
		fr->iov[0] = (struct iovec){.iov_base = fr->hdr, .iov_len = p->hdr_len};
		struct io_uring_sqe *sqe = host_uring_sqe(u, &fr->op);
		if (rx) {
			io_uring_prep_readv(sqe, p->fd, fr->iov, fr->niov, 0);
		} else {
			memset(fr->hdr, 0, sizeof(fr->hdr)); /* no offloads: a plain frame */
			io_uring_prep_writev(sqe, p->fd, fr->iov, fr->niov, 0);
		}
		/* Hard, not soft: a short read, which every frame is, must not break the chain. */
		if (prev)
			prev->flags |= IOSQE_IO_HARDLINK;
		prev = sqe;
		fr->port = p;
		fr->rx = rx;
		fr->posted = true;
		p->posted++;
		p->tx_in_kernel += !rx;
	}
}

int host_net_port_recv(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
		       unsigned n)
{
	int ret = frames_ready(p, f, n);
	if (ret)
		return ret;
	frames_post(p, u, f, n, true);
	return 0;
}

int host_net_port_send(struct host_net_port *p, struct host_uring *u, struct host_net_frame **f,
		       unsigned n)
{
	int ret = frames_ready(p, f, n);
	if (ret)
		return ret;
	if (!p->tx_in_kernel && !p->tx_head) {
		frames_post(p, u, f, n, false);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) { /* after the batch in the kernel, in order */
		f[i]->port = p;
		f[i]->rx = false;
		f[i]->posted = true;
		f[i]->next = NULL;
		if (p->tx_tail)
			p->tx_tail->next = f[i];
		else
			p->tx_head = f[i];
		p->tx_tail = f[i];
		p->tx_waiting++;
	}
	return 0;
}

void host_net_port_cancel(struct host_net_port *p, struct host_uring *u)
{
	/* Writes that never reached the kernel end here, cancelled, oldest first. */
	while (p->tx_head) {
		struct host_net_frame *f = p->tx_head;
		p->tx_head = f->next;
		if (!p->tx_head)
			p->tx_tail = NULL;
		p->tx_waiting--;
		f->posted = false;
		f->done(f, -ECANCELED);
	}
	if (!p->posted || p->cancelling)
		return;
	p->cancelling = true;
	port_cancel_all(p, u);
}
