/* SPDX-License-Identifier: MIT */
#include "session.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host/vhost_msg.h"

/* The block config up to write_zeroes_may_unmap: what every back-end knows (QEMU 7.2's struct
 * ends there and it refuses larger requests). */
#define BLK_CONFIG_SIZE	 offsetof(struct virtio_blk_config, max_secure_erase_sectors)
#define CONNECT_WAIT_MS	 10000 /* at start-up, for a back-end started alongside */
#define RETRY_MS	 100
#define SOCKET_TIMEOUT_S 5 /* a back-end that stops answering counts as gone */
#define WANTED_PROTOCOL                                                                            \
	(1ull << VHOST_USER_PROTOCOL_F_MQ | 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |              \
	 1ull << VHOST_USER_PROTOCOL_F_CONFIG | 1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)

bool vu_session_has_protocol(const struct vu_session *s, unsigned bit)
{
	return s->protocol_features & (1ull << bit);
}

/* A request with no reply of its own: with REPLY_ACK the back-end confirms it, so a failure
 * (an unmappable region, a bad ring) is seen here and not as silence later. */
static int request(struct vu_session *s, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	bool ack = vu_session_has_protocol(s, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int ret = host_vu_request(s->sock, req, ack ? VHOST_USER_NEED_REPLY_MASK : 0, payload, size,
				  fds, nfds);
	if (ret || !ack)
		return ret;
	struct host_vu_msg reply;
	ret = host_vu_recv(s->sock, &reply, HOST_VU_REPLY_TIMEOUT_MS);
	host_vu_close_fds(&reply); /* an ack carries none */
	if (!ret && (reply.hdr.request != req || reply.hdr.size != sizeof(uint64_t) ||
		     !(reply.hdr.flags & VHOST_USER_REPLY_MASK)))
		ret = -EPROTO;
	return ret ? ret : reply.p.u64 ? -EIO : 0;
}

/* A request whose reply has no fds: into *reply, checked to be `size` bytes. */
static int call(struct vu_session *s, uint32_t req, const void *payload, uint32_t size,
		uint32_t reply_size, struct host_vu_msg *reply)
{
	int ret = host_vu_call(s->sock, req, payload, size, reply);
	if (ret)
		return ret;
	host_vu_close_fds(reply);
	return reply->hdr.size == reply_size ? 0 : -EPROTO;
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

static int protocol_features(struct vu_session *s)
{
	s->protocol_features = 0;
	if (!(s->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		return 0;
	struct host_vu_msg reply;
	int ret = call(s, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0, sizeof(uint64_t), &reply);
	if (ret)
		return ret;
	uint64_t want = reply.p.u64 & WANTED_PROTOCOL;
	ret = host_vu_request(s->sock, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &want, sizeof(want),
			      NULL, 0);
	if (!ret)
		s->protocol_features = want;
	return ret;
}

/* Features and protocol features; the configuration of a block device. */
static int handshake(struct vu_session *s)
{
	struct host_vu_msg reply;
	int ret = call(s, VHOST_USER_GET_FEATURES, NULL, 0, sizeof(uint64_t), &reply);
	if (ret)
		return ret;
	s->backend_features = reply.p.u64;
	ret = protocol_features(s);
	if (!ret)
		ret = request(s, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (ret || s->device_id != VIRTIO_ID_BLOCK)
		return ret;
	if (!vu_session_has_protocol(s, VHOST_USER_PROTOCOL_F_CONFIG))
		return -ENOTSUP; /* a block device's capacity comes from the back-end */
	struct vhost_user_config cfg = {.size = BLK_CONFIG_SIZE};
	uint32_t size = (uint32_t)offsetof(struct vhost_user_config, payload) + cfg.size;
	ret = call(s, VHOST_USER_GET_CONFIG, &cfg, size, size, &reply);
	if (!ret)
		memcpy(s->config, reply.p.config.payload, cfg.size);
	return ret;
}

int vu_session_set_features(struct vu_session *s, uint64_t features)
{
	if (s->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES))
		features |= 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
	return request(s, VHOST_USER_SET_FEATURES, &features, sizeof(features), NULL, 0);
}

int vu_session_set_mem_table(struct vu_session *s, const struct gmem *mem)
{
	struct vhost_user_memory m = {.nregions = mem->nr};
	int fds[VHOST_USER_MEM_REGIONS];
	for (unsigned i = 0; i < mem->nr && i < VHOST_USER_MEM_REGIONS; i++) {
		const struct gmem_region *r = &mem->r[i];
		m.regions[i] = (struct vhost_user_mem_region){.guest_phys_addr = r->gpa,
							      .memory_size = r->size,
							      .userspace_addr =
								      (uint64_t)(uintptr_t)r->hva,
							      .mmap_offset = r->fd_offset};
		fds[i] = r->fd;
	}
	return request(s, VHOST_USER_SET_MEM_TABLE, &m,
		       (uint32_t)(offsetof(struct vhost_user_memory, regions) +
				  m.nregions * sizeof(m.regions[0])),
		       fds, m.nregions);
}

/* The inflight region is the back-end's; vmmon keeps it across reconnects and hands it back. */
int vu_session_set_inflight(struct vu_session *s, uint16_t queues, uint16_t queue_size)
{
	if (!vu_session_has_protocol(s, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return 0;
	if (s->inflight_fd < 0) {
		struct vhost_user_inflight req = {.num_queues = queues, .queue_size = queue_size};
		struct host_vu_msg reply;
		int ret = host_vu_call(s->sock, VHOST_USER_GET_INFLIGHT_FD, &req, sizeof(req),
				       &reply);
		if (!ret && (reply.nfds != 1 || reply.hdr.size != sizeof(req)))
			ret = -EPROTO;
		if (ret) {
			host_vu_close_fds(&reply);
			return ret;
		}
		s->inflight_fd = reply.fds[0];
		s->inflight = reply.p.inflight;
	}
	return request(s, VHOST_USER_SET_INFLIGHT_FD, &s->inflight, sizeof(s->inflight),
		       &s->inflight_fd, 1);
}

void vu_session_drop_inflight(struct vu_session *s)
{
	if (s->inflight_fd >= 0)
		close(s->inflight_fd);
	s->inflight_fd = -1;
}

int vu_session_start_ring(struct vu_session *s, const struct vu_ring *r)
{
	struct vhost_vring_state num = {.index = r->index, .num = r->num};
	struct vhost_vring_addr addr = {.index = r->index,
					.desc_user_addr = r->desc,
					.avail_user_addr = r->avail,
					.used_user_addr = r->used};
	struct vhost_vring_state base = {.index = r->index, .num = r->base};
	struct vhost_vring_state enable = {.index = r->index, .num = 1};
	uint64_t idx = r->index;
	int ret = request(s, VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0);
	if (!ret)
		ret = request(s, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
	if (!ret)
		ret = request(s, VHOST_USER_SET_VRING_BASE, &base, sizeof(base), NULL, 0);
	if (!ret)
		ret = request(s, VHOST_USER_SET_VRING_KICK, &idx, sizeof(idx), &r->kick_fd, 1);
	if (!ret)
		ret = request(s, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &r->call_fd, 1);
	if (!ret)
		ret = request(s, VHOST_USER_SET_VRING_ERR, &idx, sizeof(idx), &r->err_fd, 1);
	if (!ret && (s->backend_features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = request(s, VHOST_USER_SET_VRING_ENABLE, &enable, sizeof(enable), NULL, 0);
	return ret;
}

int vu_session_set_call(struct vu_session *s, unsigned index, int call_fd)
{
	uint64_t idx = index;
	return request(s, VHOST_USER_SET_VRING_CALL, &idx, sizeof(idx), &call_fd, 1);
}

int vu_session_stop_ring(struct vu_session *s, unsigned index, uint16_t *base)
{
	struct vhost_vring_state st = {.index = index};
	struct host_vu_msg reply;
	int ret = call(s, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), sizeof(st), &reply);
	if (!ret && base)
		*base = (uint16_t)reply.p.state.num;
	return ret;
}

void vu_session_lost(struct vu_session *s, const char *why)
{
	if (s->sock < 0)
		return;
	fprintf(stderr, "vmmon: vhost-user %s: back-end gone (%s); waiting for it to return\n",
		s->path, why);
	close(s->sock);
	s->sock = -1;
	s->started = false;
}

int vu_session_open(struct vu_session *s, const char *path, uint32_t device_id,
		    struct host_err *err)
{
	memset(s, 0, sizeof(*s));
	s->sock = s->inflight_fd = s->stop_fd = -1;
	s->device_id = device_id;
	if (strlen(path) >= sizeof(s->path))
		return host_err_set(err, ENAMETOOLONG, "vhost-user=%s: socket path too long", path);
	memcpy(s->path, path, strlen(path) + 1);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (s->stop_fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
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
				    "vhost-user=%s: cannot connect: %s; start the back-end "
				    "(ioproxy --socket %s ...) first",
				    path, strerror(-ret), path);
	s->sock = ret;
	ret = handshake(s);
	if (ret)
		return host_err_set(err, -ret,
				    "vhost-user=%s: the back-end's handshake failed: %s%s", path,
				    strerror(-ret),
				    ret == -ENOTSUP ? " (a block back-end must offer the CONFIG "
						      "protocol feature)"
						    : "");
	return 0;
}

static bool stop_asked(struct vu_session *s, int ms)
{
	struct pollfd p = {.fd = s->stop_fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

/* The back-end is away: try once to reach it again; on success the device gets its rings
 * back through the callback. */
static void reconnect(struct vu_session *s)
{
	int fd = connect_once(s->path);
	if (fd < 0)
		return;
	pthread_mutex_lock(s->lock);
	s->sock = fd;
	s->connects++;
	int ret = handshake(s);
	if (!ret)
		ret = s->reconnected(s, s->ctx);
	if (ret)
		vu_session_lost(s, strerror(-ret));
	else
		fprintf(stderr, "vmmon: vhost-user %s: back-end connected%s\n", s->path,
			s->started ? ", rings handed back" : "");
	pthread_mutex_unlock(s->lock);
}

/* Keeps the connection: waits for a hang-up, then reconnects. Only a hang-up wakes it:
 * replies are read by whoever sent the request. */
static void *connection_thread(void *arg)
{
	struct vu_session *s = arg;
	for (;;) {
		pthread_mutex_lock(s->lock);
		int sock = s->sock;
		pthread_mutex_unlock(s->lock);
		if (sock < 0) {
			if (stop_asked(s, RETRY_MS))
				return NULL;
			reconnect(s);
			continue;
		}
		struct pollfd p[2] = {{.fd = sock, .events = POLLRDHUP},
				      {.fd = s->stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[1].revents)
			return NULL;
		if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			pthread_mutex_lock(s->lock);
			if (s->sock == sock)
				vu_session_lost(s, "connection closed");
			pthread_mutex_unlock(s->lock);
		}
	}
}

int vu_session_watch(struct vu_session *s, pthread_mutex_t *lock,
		     int (*reconnected)(struct vu_session *, void *), void *ctx)
{
	s->lock = lock;
	s->reconnected = reconnected;
	s->ctx = ctx;
	int ret = pthread_create(&s->thread, NULL, connection_thread, s);
	if (ret)
		return -ret;
	s->thread_started = true;
	return 0;
}

void vu_session_close(struct vu_session *s)
{
	if (s->thread_started) {
		uint64_t one = 1;
		if (write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(s->thread, NULL);
		s->thread_started = false;
	}
	if (s->sock >= 0)
		close(s->sock);
	vu_session_drop_inflight(s);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	s->sock = s->stop_fd = -1;
}
