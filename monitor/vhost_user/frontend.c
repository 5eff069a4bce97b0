/* SPDX-License-Identifier: MIT */
#include "frontend.h"
#include "host/util.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/vhost_msg.h"

#define QUEUE_SIZE 256
/* The block config up to write_zeroes_may_unmap: what every back-end knows (QEMU 7.2's struct
 * ends there and it refuses larger requests). */
#define BLK_CONFIG_SIZE	 offsetof(struct virtio_blk_config, max_secure_erase_sectors)
#define CONNECT_WAIT_MS	 10000 /* at start-up, for a back-end started alongside */
#define RETRY_MS	 100
#define SOCKET_TIMEOUT_S 5 /* a back-end that stops answering counts as gone */

/* Transport features a back-end may offer and vmmon's transports carry. */
#define TRANSPORT_FEATURES                                                                         \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_RING_PACKED |                               \
	 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC |                   \
	 1ull << VIRTIO_F_IN_ORDER)
#define DEVICE_FEATURES 0xffffffull /* bits 0-23 belong to the device type */
#define WANTED_PROTOCOL                                                                            \
	(1ull << VHOST_USER_PROTOCOL_F_MQ | 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |              \
	 1ull << VHOST_USER_PROTOCOL_F_CONFIG | 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)

static bool has_protocol(const struct vu_frontend *fe, unsigned bit)
{
	return fe->protocol_features & (1ull << bit);
}

/* A request with no reply of its own: with REPLY_ACK the back-end confirms it, so a failure
 * (an unmappable region, a bad ring) is seen here and not as silence later. */
static int request(struct vu_frontend *fe, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	bool ack = has_protocol(fe, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int ret = host_vu_request(fe->sock, req, ack ? VHOST_USER_NEED_REPLY_MASK : 0, payload,
				  size, fds, nfds);
	if (ret || !ack)
		return ret;
	struct host_vu_msg reply;
	ret = host_vu_recv(fe->sock, &reply, HOST_VU_REPLY_TIMEOUT_MS);
	host_vu_close_fds(&reply); /* an ack carries none */
	if (!ret && (reply.hdr.request != req || reply.hdr.size != sizeof(uint64_t)))
		ret = -EPROTO;
	return ret ? ret : reply.p.u64 ? -EIO : 0;
}

static int get_u64(struct vu_frontend *fe, uint32_t req, uint64_t *out)
{
	struct host_vu_msg reply;
	int ret = host_vu_call(fe->sock, req, NULL, 0, &reply);
	if (!ret)
		host_vu_close_fds(&reply);
	if (!ret && reply.hdr.size != sizeof(uint64_t))
		ret = -EPROTO;
	if (!ret)
		*out = reply.p.u64;
	return ret;
}

static int connect_once(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = {.tv_sec = SOCKET_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Features and protocol features; the configuration of a block device. */
static int handshake(struct vu_frontend *fe)
{
	int ret = get_u64(fe, VHOST_USER_GET_FEATURES, &fe->backend_features);
	if (ret)
		return ret;
	fe->protocol_features = 0;
	if (fe->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		uint64_t theirs;
		ret = get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &theirs);
		if (ret)
			return ret;
		uint64_t want = theirs & WANTED_PROTOCOL;
		ret = host_vu_request(fe->sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &want,
				      sizeof(want), NULL, 0);
		if (ret)
			return ret;
		fe->protocol_features = want;
	}
	ret = request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (ret || fe->ops.device_id != VIRTIO_ID_BLOCK)
		return ret;
	if (!has_protocol(fe, VHOST_USER_PROTOCOL_F_CONFIG))
		return -ENOTSUP; /* a block device's capacity comes from the back-end */
	struct vhost_user_config cfg = {.size = BLK_CONFIG_SIZE};
	struct host_vu_msg reply;
	uint32_t size = (uint32_t)offsetof(struct vhost_user_config, payload) + cfg.size;
	ret = host_vu_call(fe->sock, VHOST_USER_GET_CONFIG, &cfg, size, &reply);
	if (!ret)
		host_vu_close_fds(&reply);
	if (!ret && reply.hdr.size != size)
		ret = -EPROTO;
	if (!ret)
		memcpy(fe->config, reply.p.config.payload, cfg.size);
	return ret;
}

static int send_mem_table(struct vu_frontend *fe)
{
	struct vhost_user_memory m = {.nregions = fe->mem->nr};
	int fds[VHOST_USER_MEM_REGIONS];
	for (unsigned i = 0; i < fe->mem->nr && i < VHOST_USER_MEM_REGIONS; i++) {
		const struct gmem_region *r = &fe->mem->r[i];
		m.regions[i] = (struct vhost_user_mem_region){.guest_phys_addr = r->gpa,
							      .memory_size = r->size,
							      .userspace_addr =
								      (uint64_t)(uintptr_t)r->hva,
							      .mmap_offset = r->fd_offset};
		fds[i] = r->fd;
	}
	return request(fe, VHOST_USER_SET_MEM_TABLE, &m,
		       (uint32_t)(offsetof(struct vhost_user_memory, regions) +
				  m.nregions * sizeof(m.regions[0])),
		       fds, m.nregions);
}

/* The inflight region is the back-end's; vmmon keeps it across reconnects and hands it back. */
static int send_inflight(struct vu_frontend *fe)
{
	if (!has_protocol(fe, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return 0;
	if (fe->inflight_fd < 0) {
		struct vhost_user_inflight req = {.num_queues = (uint16_t)fe->vdev.nr_queues,
						  .queue_size = QUEUE_SIZE};
		struct host_vu_msg reply;
		int ret = host_vu_call(fe->sock, VHOST_USER_GET_INFLIGHT_FD, &req, sizeof(req),
				       &reply);
		if (!ret && (reply.nfds != 1 || reply.hdr.size != sizeof(req)))
			ret = -EPROTO;
		if (ret) {
			host_vu_close_fds(&reply);
			return ret;
		}
		fe->inflight_fd = reply.fds[0];
		fe->inflight = reply.p.inflight;
	}
	return request(fe, VHOST_USER_SET_INFLIGHT_FD, &fe->inflight, sizeof(fe->inflight),
		       &fe->inflight_fd, 1);
}

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
	struct vhost_vring_state num = {.index = q->index, .num = q->size};
	struct vhost_vring_addr addr = {
		.index = q->index,
		.desc_user_addr = uva(fe, q->desc, q->vq.cfg.num * 16ull),
		.avail_user_addr = uva(fe, q->driver, vq_driver_size(&q->vq.cfg)),
		.used_user_addr = uva(fe, q->device, vq_device_size(&q->vq.cfg)),
	};
	struct vhost_vring_state base = {.index = q->index, .num = ring_base(fe, q, restart)};
	int call = call_fd(fe, q);
	uint64_t idx = q->index;
	struct vhost_vring_state enable = {.index = q->index, .num = 1};
	int ret = request(fe, VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0);
	if (!ret)
		ret = request(fe, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
	if (!ret)
		ret = request(fe, VHOST_USER_SET_VRING_BASE, &base, sizeof(base), NULL, 0);
	if (!ret)
		ret = request(fe, VHOST_USER_SET_VRING_KICK, &idx, sizeof(idx), &q->kick.fd, 1);
	if (!ret)
		ret = request(fe, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &call, 1);
	if (!ret)
		ret = request(fe, VHOST_USER_SET_VRING_ERR, &idx, sizeof(idx),
			      &fe->q[q->index].error.fd, 1);
	if (!ret && (fe->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = request(fe, VHOST_USER_SET_VRING_ENABLE, &enable, sizeof(enable), NULL, 0);
	return ret;
}

/* Hands the live rings to the back-end (lock held). */
static int start_backend(struct vu_frontend *fe, bool restart)
{
	struct vmm_virtio_dev *d = &fe->vdev;
	uint64_t features = d->driver_features & fe->backend_features;
	if (fe->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		features |= 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	int ret = request(fe, VHOST_USER_SET_FEATURES, &features, sizeof(features), NULL, 0);
	if (!ret)
		ret = send_mem_table(fe);
	if (!ret)
		ret = send_inflight(fe);
	for (unsigned i = 0; i < d->nr_queues && !ret; i++)
		if (d->q[i].live)
			ret = start_queue(fe, &d->q[i], restart);
	if (ret)
		return ret;
	fe->started = true;
	/* Kicks may have gone unread while the back-end was away: look at every ring. */
	for (unsigned i = 0; i < d->nr_queues; i++)
		if (d->q[i].live && write(d->q[i].kick.fd, &(uint64_t){1}, 8) < 0)
			break;
	return 0;
}

static void disconnected(struct vu_frontend *fe, const char *why)
{
	if (fe->sock < 0)
		return;
	fprintf(stderr, "vmmon: vhost-user %s: back-end gone (%s); waiting for it to return\n",
		fe->path, why);
	close(fe->sock);
	fe->sock = -1;
	fe->started = false;
}

/* The guest reset the device: stop the rings, keeping their positions (lock held). The
 * inflight region goes too, as QEMU's vhost-user-blk frees it on reset: it describes rings the
 * guest has abandoned (for a packed ring, their position, which the back-end trusts over
 * SET_VRING_BASE), and the next start asks for a fresh one. */
static void reset(struct vmm_virtio_dev *d)
{
	struct vu_frontend *fe = d->priv;
	if (fe->inflight_fd >= 0) {
		close(fe->inflight_fd);
		fe->inflight_fd = -1;
	}
	if (fe->sock < 0 || !fe->started)
		return;
	for (unsigned i = 0; i < d->nr_queues && i < VU_MAX_QUEUES; i++) {
		if (!d->q[i].live)
			continue;
		struct vhost_vring_state st = {.index = i};
		struct host_vu_msg reply;
		int ret =
			host_vu_call(fe->sock, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), &reply);
		if (!ret)
			host_vu_close_fds(&reply);
		if (ret) {
			disconnected(fe, strerror(-ret));
			return;
		}
	}
	fe->started = false;
}

/* The driver moved q's interrupt (another MSI-X vector, MSI-X on or off) while the rings run:
 * the back-end signals the new eventfd from now on (lock held). Away, the next start sends it. */
static void queue_irq_changed(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	struct vu_frontend *fe = d->priv;
	if (fe->sock < 0 || !fe->started)
		return;
	uint64_t idx = q->index;
	int call = call_fd(fe, q);
	int ret = request(fe, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &call, 1);
	if (ret)
		disconnected(fe, strerror(-ret));
}

static int activate(struct vmm_virtio_dev *d)
{
	struct vu_frontend *fe = d->priv;
	if (fe->sock < 0)
		return 0; /* the connection thread starts the rings when the back-end returns */
	int ret = start_backend(fe, false);
	if (ret)
		disconnected(fe, strerror(-ret));
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

static bool wait_ms(struct vu_frontend *fe, int ms)
{
	struct pollfd p = {.fd = fe->stop_fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1; /* true: asked to stop */
}

/* Keeps the connection: waits for a hang-up, then reconnects and replays the setup. */
static void *connection_thread(void *arg)
{
	struct vu_frontend *fe = arg;
	struct vmm_virtio_dev *d = &fe->vdev;
	for (;;) {
		pthread_mutex_lock(&d->lock);
		int sock = fe->sock;
		pthread_mutex_unlock(&d->lock);
		if (sock < 0) {
			if (wait_ms(fe, RETRY_MS))
				return NULL;
			int fd = connect_once(fe->path);
			if (fd < 0)
				continue;
			pthread_mutex_lock(&d->lock);
			fe->sock = fd;
			fe->connects++;
			int ret = handshake(fe);
			if (!ret && d->active)
				ret = start_backend(fe, true);
			if (ret)
				disconnected(fe, strerror(-ret));
			else
				fprintf(stderr, "vmmon: vhost-user %s: back-end connected%s\n",
					fe->path, d->active ? ", rings handed back" : "");
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		/* Only a hang-up wakes this: replies are read by whoever sent the request. */
		struct pollfd p[2] = {{.fd = sock, .events = POLLRDHUP},
				      {.fd = fe->stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[1].revents)
			return NULL;
		if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			pthread_mutex_lock(&d->lock);
			if (fe->sock == sock)
				disconnected(fe, "connection closed");
			pthread_mutex_unlock(&d->lock);
		}
	}
}

int vu_frontend_init(struct vu_frontend *fe, const char *path, uint32_t device_id,
		     const void *net_config, unsigned net_config_size, struct vmm_io *io,
		     const struct gmem *mem, struct host_err *err)
{
	memset(fe, 0, sizeof(*fe));
	fe->sock = fe->inflight_fd = fe->stop_fd = -1;
	fe->mem = mem;
	if (strlen(path) >= sizeof(fe->path))
		return host_err_set(err, ENAMETOOLONG, "vhost-user=%s: socket path too long", path);
	memcpy(fe->path, path, strlen(path) + 1);
	fe->ops = (struct vmm_virtio_dev_ops){
		.name = device_id == VIRTIO_ID_BLOCK ? "vhost-user-blk" : "vhost-user-net",
		.device_id = device_id,
		.config_size = device_id == VIRTIO_ID_BLOCK ? BLK_CONFIG_SIZE : net_config_size,
		.config_read = config_read,
		.activate = activate,
		.reset = reset,
		.queue_irq_changed = queue_irq_changed,
		.external_queues = true};
	if (net_config)
		memcpy(fe->config, net_config, net_config_size);
	/* The back-end is often started alongside: give it a moment to listen. */
	int ret = -ENOENT;
	for (int waited = 0; waited <= CONNECT_WAIT_MS; waited += RETRY_MS) {
		ret = connect_once(path);
		if (ret >= 0)
			break;
		struct timespec ts = {0, RETRY_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (ret < 0)
		return host_err_set(err, -ret,
				    "vhost-user=%s: cannot connect: %s; start the "
				    "back-end (ioproxy --socket %s ...) first",
				    path, strerror(-ret), path);
	fe->sock = ret;
	ret = handshake(fe);
	if (ret)
		return host_err_set(err, -ret,
				    "vhost-user=%s: the back-end's handshake failed: %s%s", path,
				    strerror(-ret),
				    ret == -ENOTSUP ? " (a block back-end must offer the CONFIG "
						      "protocol feature)"
						    : "");
	unsigned queues = 2; /* net: one queue pair */
	if (device_id == VIRTIO_ID_BLOCK) {
		const struct virtio_blk_config *bc = (const void *)fe->config;
		queues = (fe->backend_features & (1ull << VIRTIO_BLK_F_MQ)) && bc->num_queues
				 ? bc->num_queues
				 : 1;
	}
	if (queues > VU_MAX_QUEUES)
		queues = VU_MAX_QUEUES;
	for (unsigned i = 0; i < queues; i++) {
		struct vu_queue *q = &fe->q[i];
		*q = (struct vu_queue){.fe = fe, .index = i};
		q->relay = (struct vmm_io_event){.fn = relay,
						 .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
		q->error = (struct vmm_io_event){.fn = ring_error,
						 .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
		if (q->relay.fd < 0 || q->error.fd < 0 || vmm_io_add_event(io, &q->relay) ||
		    vmm_io_add_event(io, &q->error))
			return host_err_set(err, ENOSPC, "vhost-user=%s: out of event slots", path);
	}
	fe->stop_fd = eventfd(0, EFD_CLOEXEC);
	uint64_t features = fe->backend_features & (DEVICE_FEATURES | TRANSPORT_FEATURES);
	ret = vmm_virtio_dev_init(&fe->vdev, &fe->ops, fe, features, queues, QUEUE_SIZE, io, mem);
	if (ret)
		return host_err_set(err, -ret, "vhost-user=%s: %s", path, strerror(-ret));
	/* Only what the back-end offers: the core would add its own ring features. */
	fe->vdev.device_features =
		features |
		(device_id == VIRTIO_ID_NET ? 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS
					    : 0); /* the net config is vmmon's */
	return 0;
}

int vu_frontend_start(struct vu_frontend *fe)
{
	int ret = pthread_create(&fe->thread, NULL, connection_thread, fe);
	if (ret)
		return -ret;
	fe->thread_started = true;
	return 0;
}

void vu_frontend_destroy(struct vu_frontend *fe)
{
	if (fe->thread_started) {
		uint64_t one = 1;
		if (write(fe->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(fe->thread, NULL);
		fe->thread_started = false;
	}
	if (fe->vdev.ops)
		vmm_virtio_dev_destroy(&fe->vdev);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		if (fe->q[i].relay.fd > 0)
			close(fe->q[i].relay.fd);
		if (fe->q[i].error.fd > 0)
			close(fe->q[i].error.fd);
	}
	if (fe->sock >= 0)
		close(fe->sock);
	if (fe->inflight_fd >= 0)
		close(fe->inflight_fd);
	if (fe->stop_fd >= 0)
		close(fe->stop_fd);
}
