/* SPDX-License-Identifier: MIT */
#include "frontend.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host/util.h"

#define QUEUE_SIZE 256
/* Transport features a back-end may offer and vmmon's transports carry. */
#define TRANSPORT_FEATURES                                                                         \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_PACKED |                               \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC |                   \
	 1ull << VIRTIO_F_IN_ORDER)
#define DEVICE_FEATURES 0xffffffull /* bits 0-23 belong to the device type */
#define BLK_CONFIG_SIZE offsetof(struct virtio_blk_config, max_secure_erase_sectors)

static uint64_t uva(const struct vu_frontend *fe, uint64_t gpa, uint64_t len)
{
	return (uint64_t)(uintptr_t)gmem_ptr(fe->mem, gpa, len);
}

/* Where the back-end starts: 0 the first time; after it died, the used index the guest sees
 * (as QEMU does): the back-end adds what its inflight region says is still in flight. A packed
 * ring keeps no index in shared memory, so after a death nothing here knows its position: an
 * inflight back-end takes it from the region (ioproxy does), and the start of the ring is all
 * that can be said to one without. */
static uint16_t ring_base(struct vu_frontend *fe, struct vmm_virtio_queue *q, bool restart)
{
	bool packed = fe->vdev.driver_features & (1ull << VIRTIO_F_RING_PACKED);
	if (!restart || packed)
		return packed ? 0x8000 : 0; /* packed: position 0, wrap counter 1 */
	const uint16_t *used_idx = gmem_ptr(fe->mem, q->device + 2, 2);
	return used_idx ? __atomic_load_n(used_idx, __ATOMIC_ACQUIRE) : 0;
}

/* What the back-end signals for q's interrupt: its MSI-X irqfd, or else the relay through
 * which vmmon raises the interrupt itself (INTx, virtio-mmio, MSI-X off or no vector). */
static int call_fd(struct vu_frontend *fe, struct vmm_virtio_queue *q)
{
	struct vmm_virtio_dev *d = &fe->vdev;
	int call = d->tops->queue_irqfd ? d->tops->queue_irqfd(d, q) : -1;
	return call >= 0 ? call : fe->q[q->index].relay.fd;
}

static int start_queue(struct vu_frontend *fe, struct vmm_virtio_queue *q, bool restart)
{
	struct vu_ring r = {
		.index = q->index,
		.num = q->size,
		.desc = uva(fe, q->desc, vq_desc_size(&q->vq.cfg)),
		.avail = uva(fe, q->driver, vq_driver_size(&q->vq.cfg)),
		.used = uva(fe, q->device, vq_device_size(&q->vq.cfg)),
		.base = fe->q[q->index].has_base ? fe->q[q->index].base : ring_base(fe, q, restart),
		.kick_fd = q->kick.fd,
		.call_fd = call_fd(fe, q),
		.err_fd = fe->q[q->index].error.fd,
	};
	return vu_session_start_ring(&fe->s, &r);
}

/* Hands the live rings to the back-end (lock held). */
static int start_backend(struct vu_frontend *fe, bool restart)
{
	struct vmm_virtio_dev *d = &fe->vdev;
	int ret = vu_session_set_features(&fe->s, d->driver_features & fe->s.backend_features);
	if (!ret)
		ret = vu_session_set_mem_table(&fe->s, fe->mem);
	if (!ret)
		ret = vu_session_set_inflight(&fe->s, (uint16_t)d->nr_queues, QUEUE_SIZE);
	for (unsigned i = 0; i < d->nr_queues && !ret; i++)
		if (d->q[i].live)
			ret = start_queue(fe, &d->q[i], restart);
	if (ret)
		return ret;
	fe->s.started = true;
	/* Kicks may have gone unread while the back-end was away: look at every ring. */
	for (unsigned i = 0; i < d->nr_queues; i++)
		if (d->q[i].live)
			host_signal(d->q[i].kick.fd);
	return 0;
}

/* Connection thread, lock held: the back-end returned. */
static int reconnected(struct vu_session *s, void *ctx)
{
	struct vu_frontend *fe = ctx;
	(void)s;
	/* A new back-end: positions it gave its predecessor at a pause are not its to trust. */
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		fe->q[i].has_base = false;
	return fe->vdev.active && !fe->paused ? start_backend(fe, true) : 0;
}

/* Stops every live ring, keeping where each stopped (lock held). */
static int stop_rings(struct vu_frontend *fe, bool keep_base)
{
	struct vmm_virtio_dev *d = &fe->vdev;
	for (unsigned i = 0; i < d->nr_queues && i < VU_MAX_QUEUES; i++) {
		if (!d->q[i].live)
			continue;
		int ret = vu_session_stop_ring(&fe->s, i, keep_base ? &fe->q[i].base : NULL);
		if (ret) {
			vu_session_lost(&fe->s, strerror(-ret));
			return ret;
		}
		fe->q[i].has_base = keep_base;
	}
	fe->s.started = false;
	return 0;
}

int vu_frontend_pause(struct vu_frontend *fe)
{
	pthread_mutex_lock(&fe->vdev.lock);
	fe->paused = true;
	int ret = fe->s.sock >= 0 && fe->s.started ? stop_rings(fe, true) : 0;
	pthread_mutex_unlock(&fe->vdev.lock);
	return ret;
}

int vu_frontend_resume(struct vu_frontend *fe)
{
	pthread_mutex_lock(&fe->vdev.lock);
	fe->paused = false;
	int ret = 0;
	if (fe->vdev.active && fe->s.sock >= 0 && !fe->s.started) {
		ret = start_backend(fe, true);
		if (ret)
			vu_session_lost(&fe->s, strerror(-ret));
	}
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		fe->q[i].has_base = false;
	pthread_mutex_unlock(&fe->vdev.lock);
	return ret;
}

/* The guest reset the device: stop the rings, keeping their positions (lock held). The
 * inflight region goes too, as QEMU's vhost-user-blk frees it on reset: it describes rings the
 * guest has abandoned (for a packed ring, their position, which the back-end trusts over
 * SET_VRING_BASE), and the next start asks for a fresh one. */
static void reset(struct vmm_virtio_dev *d)
{
	struct vu_frontend *fe = d->priv;
	vu_session_drop_inflight(&fe->s);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		fe->q[i].has_base = false;
	if (fe->s.sock >= 0 && fe->s.started)
		stop_rings(fe, false);
}

/* The driver moved q's interrupt (another MSI-X vector, MSI-X on or off) while the rings run:
 * the back-end signals the new eventfd from now on (lock held). Away, the next start sends it. */
static void queue_irq_changed(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vu_frontend *fe = d->priv;
	if (fe->s.sock < 0 || !fe->s.started)
		return;
	int ret = vu_session_set_call(&fe->s, q->index, call_fd(fe, q));
	if (ret)
		vu_session_lost(&fe->s, strerror(-ret));
}

static int activate(struct vmm_virtio_dev *d)
{
	struct vu_frontend *fe = d->priv;
	if (fe->s.sock < 0)
		return 0; /* the connection thread starts the rings when the back-end returns */
	int ret = start_backend(fe, false);
	if (ret)
		vu_session_lost(&fe->s, strerror(-ret));
	return 0;
}

static void config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	struct vu_frontend *fe = d->priv;
	memcpy(data, fe->config + off, len);
}

/* I/O thread: the back-end's call for a transport without irqfds. */
static void relay(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct vu_queue *vq = container_of(ev, struct vu_queue, relay);
	struct vmm_virtio_dev *d = &vq->fe->vdev;
	pthread_mutex_lock(&d->lock);
	if (d->active) {
		d->q[vq->index].notifies++;
		d->tops->notify_queue(d, &d->q[vq->index]);
	}
	pthread_mutex_unlock(&d->lock);
}

static void ring_error(struct vmm_io *io, struct vmm_io_event *ev)
{
	(void)io;
	struct vu_queue *vq = container_of(ev, struct vu_queue, error);
	struct vmm_virtio_dev *d = &vq->fe->vdev;
	pthread_mutex_lock(&d->lock);
	vmm_virtio_violation(d, "the vhost-user back-end found a ring broken");
	pthread_mutex_unlock(&d->lock);
}

/* Per queue, two eventfds read by the I/O thread: the relayed call and the ring error. */
static int add_queues(struct vu_frontend *fe, unsigned queues, struct vmm_io *io)
{
	for (unsigned i = 0; i < queues; i++) {
		struct vu_queue *q = &fe->q[i];
		*q = (struct vu_queue){.fe = fe, .index = i};
		q->relay = (struct vmm_io_event){.fn = relay,
						 .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
		q->error = (struct vmm_io_event){.fn = ring_error,
						 .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
		if (q->relay.fd < 0 || q->error.fd < 0 || vmm_io_add_event(io, &q->relay) ||
		    vmm_io_add_event(io, &q->error))
			return -ENOSPC;
	}
	return 0;
}

/* A block device has the queues its configuration says (MQ); a network device one pair. */
static unsigned queue_count(const struct vu_frontend *fe, uint32_t device_id)
{
	unsigned queues = 2;
	if (device_id == VIRTIO_ID_BLOCK) {
		const struct virtio_blk_config *bc = (const void *)fe->config;
		queues = (fe->s.backend_features & (1ull << VIRTIO_BLK_F_MQ)) && bc->num_queues
				 ? bc->num_queues
				 : 1;
	}
	return queues > VU_MAX_QUEUES ? VU_MAX_QUEUES : queues;
}

int vu_frontend_init(struct vu_frontend *fe, const char *path, uint32_t device_id,
		     const void *net_config, unsigned net_config_size, struct vmm_io *io,
		     const struct gmem *mem, struct host_err *err)
{
	memset(fe, 0, sizeof(*fe));
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		fe->q[i].relay.fd = fe->q[i].error.fd = -1;
	fe->mem = mem;
	int ret = vu_session_open(&fe->s, path, device_id, err);
	if (ret)
		return ret;
	bool blk = device_id == VIRTIO_ID_BLOCK;
	fe->ops =
		(struct vmm_virtio_dev_ops){.name = blk ? "vhost-user-blk" : "vhost-user-net",
					    .device_id = device_id,
					    .config_size = blk ? BLK_CONFIG_SIZE : net_config_size,
					    .config_read = config_read,
					    .activate = activate,
					    .reset = reset,
					    .queue_irq_changed = queue_irq_changed,
					    .external_queues = true};
	memcpy(fe->config, blk ? fe->s.config : net_config, fe->ops.config_size);
	unsigned queues = queue_count(fe, device_id);
	if (add_queues(fe, queues, io))
		return host_err_set(err, ENOSPC, "vhost-user=%s: out of event slots", path);
	uint64_t features = fe->s.backend_features & (DEVICE_FEATURES | TRANSPORT_FEATURES);
	ret = vmm_virtio_dev_init(&fe->vdev, &fe->ops, fe, features, queues, QUEUE_SIZE, io, mem);
	if (ret)
		return host_err_set(err, -ret, "vhost-user=%s: %s", path, strerror(-ret));
	/* Only what the back-end offers: the core would add its own ring features. */
	fe->vdev.device_features =
		features | (blk ? 0 : 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS);
	return 0;
}

int vu_frontend_start(struct vu_frontend *fe)
{
	/* The device's lock guards the session: a vCPU's reset and the reconnect both talk. */
	return vu_session_watch(&fe->s, &fe->vdev.lock, reconnected, fe);
}

void vu_frontend_destroy(struct vu_frontend *fe)
{
	vu_session_close(&fe->s);
	if (fe->vdev.ops)
		vmm_virtio_dev_destroy(&fe->vdev);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		if (fe->q[i].relay.fd >= 0)
			close(fe->q[i].relay.fd);
		if (fe->q[i].error.fd >= 0)
			close(fe->q[i].error.fd);
	}
}
