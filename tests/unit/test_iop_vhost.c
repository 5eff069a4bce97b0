/* SPDX-License-Identifier: MIT */
/*
 * ioproxy's vhost-user dispatcher and validator, driven with fabricated messages over a
 * socketpair with SCM_RIGHTS: every refusal (size against the payload and the request's
 * minimum, unexpected and missing fds, ring index, memory regions overlapping, overflowing,
 * empty or beyond their fd, repeated GET_INFLIGHT_FD) and the REPLY_ACK answers. No ring is
 * started here (no queue threads): the data path is covered by the integration tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk.h"
#include "vhost.h"
#include "sendfds.h"

#define V	 VHOST_USER_VERSION
#define ACK	 (VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK)
#define QUEUES	 2
#define DISK_MIB 1

struct fixture {
	struct iop_dev *d;
	int peer; /* the front-end's end */
	char disk[64];
};

static int count_fds(void)
{
	int n = 0;
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->disk, "/tmp/test_iop_vhost.XXXXXX");
	int fd = mkstemp(f->disk);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_MIB << 20), 0);
	close(fd);
	struct iop_dev_cfg cfg = {
		.kind = IOP_DEV_BLK, .blk = {.path = f->disk, .queues = QUEUES}, .listen_fd = -1};
	int files[4];
	unsigned nfiles = 0;
	struct host_err err = {{0}};
	assert_int_equal(iop_blk_create(&f->d, 0, &cfg, NULL, files, &nfiles, 4, &err), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->d->conn_fd = sv[0];
	f->peer = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	iop_vhost_disconnect(f->d); /* closes conn_fd */
	f->d->ops->destroy(f->d);
	close(f->peer);
	unlink(f->disk);
	free(f);
	return 0;
}

/* Sends header + `sent` bytes of payload (the header claims `size`), with fds. */
static void send_raw(struct fixture *f, uint32_t req, uint32_t flags, uint32_t size,
		     const void *payload, uint32_t sent, const int *fds, unsigned nfds)
{
	uint8_t buf[sizeof(struct vhost_user_header) + sizeof(union vhost_user_payload)];
	struct vhost_user_header h = {.request = req, .flags = flags, .size = size};
	memcpy(buf, &h, sizeof(h));
	if (sent)
		memcpy(buf + sizeof(h), payload, sent);
	assert_int_equal(sendfds(f->peer, buf, sizeof(h) + sent, fds, nfds),
			 (ssize_t)(sizeof(h) + sent));
}

static int serve(struct fixture *f, uint32_t req, uint32_t flags, const void *payload,
		 uint32_t size, const int *fds, unsigned nfds)
{
	send_raw(f, req, flags, size, payload, size, fds, nfds);
	return iop_vhost_serve(f->d);
}

static bool reply_waiting(struct fixture *f)
{
	struct pollfd p = {.fd = f->peer, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

/* Reads a reply for req; returns its payload size. An fd, if any, goes to *fd. */
static uint32_t get_reply(struct fixture *f, uint32_t req, union vhost_user_payload *p, int *fd)
{
	struct vhost_user_header h;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b)};
	assert_true(reply_waiting(f));
	assert_int_equal(recvmsg(f->peer, &mh, MSG_CMSG_CLOEXEC), (ssize_t)sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (fd)
		*fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS) {
		assert_non_null(fd);
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	if (h.size)
		assert_int_equal(read(f->peer, p, h.size), (ssize_t)h.size);
	return h.size;
}

static uint64_t ack(struct fixture *f, uint32_t req)
{
	union vhost_user_payload p;
	assert_int_equal(get_reply(f, req, &p, NULL), 8);
	return p.u64;
}

static void features_and_reply_ack(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0}, r;
	assert_int_equal(serve(f, VHOST_USER_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_FEATURES, &r, NULL), 8);
	uint64_t offered = r.u64;
	assert_true(offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	assert_true(offered & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_int_equal(serve(f, VHOST_USER_GET_PROTOCOL_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_PROTOCOL_FEATURES, &r, NULL), 8);
	uint64_t want = 1ull << VHOST_USER_PROTOCOL_F_MQ | 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |
			1ull << VHOST_USER_PROTOCOL_F_CONFIG |
			1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD;
	assert_int_equal(r.u64, want);
	/* need_reply gets 0 for success, non-zero for a refusal; without it, nothing. */
	p.u64 = want;
	assert_int_equal(serve(f, VHOST_USER_SET_PROTOCOL_FEATURES, ACK, &p, 8, NULL, 0), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_PROTOCOL_FEATURES), 0);
	p.u64 = 1ull << 63;
	assert_int_equal(serve(f, VHOST_USER_SET_PROTOCOL_FEATURES, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_PROTOCOL_FEATURES), 0);
	p.u64 = offered;
	assert_int_equal(serve(f, VHOST_USER_SET_FEATURES, V, &p, 8, NULL, 0), 0);
	assert_false(reply_waiting(f));
	p.u64 = offered | 1ull << 62; /* never offered */
	assert_int_equal(serve(f, VHOST_USER_SET_FEATURES, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_FEATURES), 0);
	assert_int_equal(serve(f, VHOST_USER_SET_OWNER, ACK, NULL, 0, NULL, 0), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_OWNER), 0);
	assert_int_equal(serve(f, VHOST_USER_GET_QUEUE_NUM, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_QUEUE_NUM, &r, NULL), 8);
	assert_int_equal(r.u64, QUEUES);
	/* An unknown request, and a reply sent to the back-end: refused, with an answer. */
	assert_int_equal(serve(f, 99, ACK, NULL, 0, NULL, 0), 0);
	assert_int_not_equal(ack(f, 99), 0);
	assert_int_equal(
		serve(f, VHOST_USER_SET_OWNER, ACK | VHOST_USER_REPLY_MASK, NULL, 0, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_OWNER), 0);
	assert_int_equal(
		serve(f, VHOST_USER_SET_OWNER, 2 | VHOST_USER_NEED_REPLY_MASK, NULL, 0, NULL, 0),
		0); /* version 2 */
	assert_int_not_equal(ack(f, VHOST_USER_SET_OWNER), 0);
	assert_true(f->d->refused >= 5);
}

static void sizes(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0};
	/* Shorter than the request's minimum: refused, the stream stays in step. */
	p.state = (struct vhost_vring_state){.index = 0, .num = 64};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_NUM, ACK, &p, 4, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	assert_false(f->d->q[0].num_set);
	/* GET_* with a short payload: the error is an empty reply. */
	assert_int_equal(serve(f, VHOST_USER_GET_VRING_BASE, V, &p, 4, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_VRING_BASE, &p, NULL), 0);
	/* Longer is fine (the rest is ignored). */
	p.state = (struct vhost_vring_state){.index = 0, .num = 64};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_NUM, ACK, &p, 16, NULL, 0), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	assert_int_equal(f->d->q[0].num, 64);
	/* A size past the largest payload: never read, the connection is dropped. */
	send_raw(f, VHOST_USER_SET_VRING_NUM, ACK, 1u << 20, &p, 8, NULL, 0);
	assert_int_equal(iop_vhost_serve(f->d), -EMSGSIZE);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
}

static void size_larger_than_payload(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {.state = {.index = 0, .num = 8}};
	/* The header claims 8 bytes, 4 arrive: no over-read, an error after the timeout. */
	send_raw(f, VHOST_USER_SET_VRING_NUM, ACK, 8, &p, 4, NULL, 0);
	assert_int_equal(iop_vhost_serve(f->d), -ETIMEDOUT);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	assert_false(f->d->q[0].num_set);
	/* The peer closing mid-payload, and at a message boundary. */
	send_raw(f, VHOST_USER_SET_VRING_NUM, V, 8, &p, 4, NULL, 0);
	shutdown(f->peer, SHUT_WR);
	assert_int_equal(iop_vhost_serve(f->d), -EBADMSG);
	assert_int_equal(iop_vhost_serve(f->d), -ECONNRESET);
}

static void fds(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0};
	int efd = eventfd(0, EFD_CLOEXEC);
	int before = count_fds();
	/* Unexpected fds: closed, message refused. */
	p.state = (struct vhost_vring_state){.index = 0, .num = 64};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_NUM, ACK, &p, 8, &efd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	int three[3] = {efd, efd, efd};
	p.u64 = 0;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_CALL, ACK, &p, 8, three, 3), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_CALL), 0);
	p.u64 = VHOST_USER_VRING_NOFD_MASK; /* "no fd" but one came */
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_KICK, ACK, &p, 8, &efd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_KICK), 0);
	assert_int_equal(count_fds(), before); /* every received copy was closed */
	/* Missing fds. */
	p.u64 = 1;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_KICK, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_KICK), 0);
	assert_false(f->d->q[1].kick_set);
	p.inflight =
		(struct vhost_user_inflight){.mmap_size = 4096, .num_queues = 1, .queue_size = 64};
	assert_int_equal(serve(f, VHOST_USER_SET_INFLIGHT_FD, ACK, &p, 24, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_INFLIGHT_FD), 0);
	/* Unknown bits in the vring word. */
	p.u64 = 1 | 1u << 12;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_CALL, ACK, &p, 8, &efd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_CALL), 0);
	/* Good ones: the fd is kept, a second replaces (and closes) the first. */
	p.u64 = 1;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_CALL, ACK, &p, 8, &efd, 1), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_VRING_CALL), 0);
	assert_true(f->d->q[1].call_fd >= 0);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_CALL, ACK, &p, 8, &efd, 1), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_VRING_CALL), 0);
	assert_int_equal(count_fds(), before + 1);
	p.u64 = 1 | VHOST_USER_VRING_NOFD_MASK;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_CALL, ACK, &p, 8, NULL, 0), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_VRING_CALL), 0);
	assert_int_equal(f->d->q[1].call_fd, -1);
	/* A kick without memory: kept, the ring waits for the table to start. */
	p.u64 = 0;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_KICK, ACK, &p, 8, &efd, 1), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_VRING_KICK), 0);
	assert_true(f->d->q[0].kick_set);
	assert_false(f->d->q[0].started);
	iop_vhost_disconnect(f->d);
	assert_int_equal(count_fds(), before - 1); /* the connection's end went too */
	close(efd);
}

static void ring_index(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0};
	int efd = eventfd(0, EFD_CLOEXEC);
	int before = count_fds();
	p.state = (struct vhost_vring_state){.index = QUEUES, .num = 64};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_NUM, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	p.state.index = 0xffffffff;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_ENABLE, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ENABLE), 0);
	assert_int_equal(serve(f, VHOST_USER_GET_VRING_BASE, V, &p, 8, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_VRING_BASE, &p, NULL), 0);
	p.addr = (struct vhost_vring_addr){.index = 31};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_ADDR, ACK, &p, 40, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ADDR), 0);
	p.u64 = 200;
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_KICK, ACK, &p, 8, &efd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_KICK), 0);
	assert_int_equal(count_fds(), before);
	/* Bad values for a good ring. */
	p.state = (struct vhost_vring_state){.index = 0, .num = 0};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_NUM, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_NUM), 0);
	p.state = (struct vhost_vring_state){.index = 0, .num = 2};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_ENABLE, ACK, &p, 8, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_VRING_ENABLE), 0);
	/* GET_VRING_BASE of a ring never started answers its base. */
	p.state = (struct vhost_vring_state){.index = 1, .num = 77};
	assert_int_equal(serve(f, VHOST_USER_SET_VRING_BASE, V, &p, 8, NULL, 0), 0);
	assert_int_equal(serve(f, VHOST_USER_GET_VRING_BASE, V, &p, 8, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_VRING_BASE, &p, NULL), 8);
	assert_int_equal(p.state.index, 1);
	assert_int_equal(p.state.num, 77);
	close(efd);
}

/* A memory table of n regions over one memfd of `bytes`. */
static int mem_table(struct fixture *f, const struct vhost_user_mem_region *r, unsigned n,
		     uint64_t bytes)
{
	union vhost_user_payload p = {0};
	int mfd = memfd_create("guest", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mfd, (off_t)bytes), 0);
	int fds[VHOST_USER_MEM_REGIONS];
	p.memory.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		p.memory.regions[i] = r[i];
		fds[i] = mfd;
	}
	assert_int_equal(
		serve(f, VHOST_USER_SET_MEM_TABLE, ACK, &p, 8 + n * (uint32_t)sizeof(*r), fds, n),
		0);
	close(mfd);
	return (int)ack(f, VHOST_USER_SET_MEM_TABLE);
}

#define MIB (1ull << 20)

/* The permissions of the mapping holding p, from /proc/self/maps ("" if none holds it). */
static const char *perms_at(const void *p)
{
	static char perms[8];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, at = (unsigned long)p;
	perms[0] = 0;
	while (f && fscanf(f, "%lx-%lx %4s%*[^\n]", &lo, &hi, perms) == 3) {
		if (at >= lo && at < hi)
			break;
		perms[0] = 0;
	}
	if (f)
		fclose(f);
	return perms;
}

static void memory_regions(void **state)
{
	struct fixture *f = *state;
	int before = count_fds();
	struct vhost_user_mem_region good[2] = {{.guest_phys_addr = 0,
						 .memory_size = MIB,
						 .userspace_addr = 0x7000000000,
						 .mmap_offset = 0},
						{.guest_phys_addr = 4 * MIB,
						 .memory_size = MIB,
						 .userspace_addr = 0x7000400000,
						 .mmap_offset = MIB}};
	assert_int_equal(mem_table(f, good, 2, 2 * MIB), 0);
	assert_int_equal(f->d->mem.nr, 2);
	/* Each mapping lies between inaccessible guards. */
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *m = f->d->mem.r[i].map;
		assert_string_equal(perms_at(m), "rw-s");
		assert_string_equal(perms_at(m + MIB - 1), "rw-s");
		assert_string_equal(perms_at(m - 1), "---p");
		assert_string_equal(perms_at(m + MIB), "---p");
	}
	uint64_t gpa;
	assert_int_equal(iop_mem_uva_to_gpa(&f->d->mem, 0x7000400010, 16, &gpa), 0);
	assert_int_equal(gpa, 4 * MIB + 16);
	struct vhost_user_mem_region bad[2];
	/* Overlapping guest addresses, then user addresses. */
	memcpy(bad, good, sizeof(bad));
	bad[1].guest_phys_addr = MIB / 2;
	assert_int_not_equal(mem_table(f, bad, 2, 2 * MIB), 0);
	memcpy(bad, good, sizeof(bad));
	bad[1].userspace_addr = 0x7000000000 + MIB - 4096;
	assert_int_not_equal(mem_table(f, bad, 2, 2 * MIB), 0);
	/* Overflowing gpa + size, uva + size, offset + size; size 0. */
	memcpy(bad, good, sizeof(bad));
	bad[0].guest_phys_addr = ~0ull - 4095;
	assert_int_not_equal(mem_table(f, bad, 1, 2 * MIB), 0);
	memcpy(bad, good, sizeof(bad));
	bad[0].userspace_addr = ~0ull - 4095;
	assert_int_not_equal(mem_table(f, bad, 1, 2 * MIB), 0);
	memcpy(bad, good, sizeof(bad));
	bad[0].mmap_offset = ~0ull - 4095;
	assert_int_not_equal(mem_table(f, bad, 1, 2 * MIB), 0);
	memcpy(bad, good, sizeof(bad));
	bad[0].memory_size = 0;
	assert_int_not_equal(mem_table(f, bad, 1, 2 * MIB), 0);
	/* A mapping past the end of the fd. */
	assert_int_not_equal(mem_table(f, good, 2, MIB + 4096), 0);
	/* The refused tables changed nothing. */
	assert_int_equal(f->d->mem.nr, 2);
	assert_non_null(gmem_ptr(&f->d->mem.gmem, 4 * MIB, MIB));
	/* More regions than fds, more than 8, a size that does not cover the count. */
	union vhost_user_payload p = {0};
	p.memory.nregions = 1;
	assert_int_equal(serve(f, VHOST_USER_SET_MEM_TABLE, ACK, &p, 40, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE), 0);
	p.memory.nregions = 9;
	assert_int_equal(serve(f, VHOST_USER_SET_MEM_TABLE, ACK, &p, sizeof(p.memory), NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE), 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	p.memory.nregions = 2;
	int two[2] = {efd, efd};
	assert_int_equal(serve(f, VHOST_USER_SET_MEM_TABLE, ACK, &p, 8 + 32, two, 2), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE), 0);
	/* An fd that is no memory (an eventfd). */
	p.memory.nregions = 1;
	p.memory.regions[0] = good[0];
	assert_int_equal(serve(f, VHOST_USER_SET_MEM_TABLE, ACK, &p, 8 + 32, &efd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_MEM_TABLE), 0);
	close(efd);
	assert_int_equal(count_fds(), before);
	/* An empty table is accepted and unmaps everything. */
	assert_int_equal(mem_table(f, good, 0, MIB), 0);
	assert_int_equal(f->d->mem.nr, 0);
}

static void config(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0}, r;
	p.config =
		(struct vhost_user_config){.offset = 0, .size = sizeof(struct virtio_blk_config)};
	assert_int_equal(serve(f, VHOST_USER_GET_CONFIG, V, &p, 12 + p.config.size, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_CONFIG, &r, NULL), 12 + p.config.size);
	struct virtio_blk_config c;
	memcpy(&c, r.config.payload, sizeof(c));
	assert_int_equal(c.capacity, (DISK_MIB << 20) / 512);
	assert_int_equal(c.num_queues, QUEUES);
	assert_int_equal(c.blk_size, 512);
	assert_int_equal(c.seg_max, HOST_BLK_SEG_MAX);
	/* Past the end, more than the payload holds, a size the header does not cover. */
	p.config.offset = 8;
	assert_int_equal(serve(f, VHOST_USER_GET_CONFIG, V, &p, 12 + p.config.size, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_CONFIG, &r, NULL), 0);
	p.config = (struct vhost_user_config){.offset = 0, .size = 300};
	assert_int_equal(serve(f, VHOST_USER_GET_CONFIG, V, &p, 12, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_CONFIG, &r, NULL), 0);
	p.config = (struct vhost_user_config){.offset = 0, .size = 8};
	assert_int_equal(serve(f, VHOST_USER_GET_CONFIG, V, &p, 12, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_CONFIG, &r, NULL), 0);
	/* Writes are refused (nothing is writable). */
	p.config = (struct vhost_user_config){.offset = 0, .size = 8};
	assert_int_equal(serve(f, VHOST_USER_SET_CONFIG, ACK, &p, 20, NULL, 0), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_CONFIG), 0);
}

static void inflight(void **state)
{
	struct fixture *f = *state;
	union vhost_user_payload p = {0}, r;
	int before = count_fds();
	/* Repeated GET_INFLIGHT_FD: a fresh, formatted region each time, nothing leaked. */
	for (int round = 0; round < 3; round++) {
		p.inflight = (struct vhost_user_inflight){.num_queues = QUEUES, .queue_size = 128};
		assert_int_equal(serve(f, VHOST_USER_GET_INFLIGHT_FD, V, &p, 24, NULL, 0), 0);
		int fd;
		assert_int_equal(get_reply(f, VHOST_USER_GET_INFLIGHT_FD, &r, &fd), 24);
		assert_true(fd >= 0);
		assert_int_equal(r.inflight.mmap_size,
				 QUEUES * iop_inflight_queue_bytes(128, false));
		assert_int_equal(r.inflight.num_queues, QUEUES);
		struct vhost_user_inflight_split *q1 =
			mmap(NULL, r.inflight.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(q1 != MAP_FAILED);
		struct vhost_user_inflight_split *second =
			(void *)((uint8_t *)q1 + iop_inflight_queue_bytes(128, false));
		assert_int_equal(second->version, VHOST_USER_INFLIGHT_VERSION);
		assert_int_equal(second->desc_num, 128);
		/* Handed back: accepted. */
		assert_int_equal(serve(f, VHOST_USER_SET_INFLIGHT_FD, ACK, &r, 24, &fd, 1), 0);
		assert_int_equal(ack(f, VHOST_USER_SET_INFLIGHT_FD), 0);
		munmap(q1, r.inflight.mmap_size);
		close(fd);
		assert_int_equal(count_fds(), before);
	}
	/* Unreasonable sizes, and a region bigger than its fd. */
	p.inflight = (struct vhost_user_inflight){.num_queues = QUEUES + 1, .queue_size = 128};
	assert_int_equal(serve(f, VHOST_USER_GET_INFLIGHT_FD, V, &p, 24, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_INFLIGHT_FD, &r, NULL), 0);
	p.inflight = (struct vhost_user_inflight){.num_queues = 1, .queue_size = 0};
	assert_int_equal(serve(f, VHOST_USER_GET_INFLIGHT_FD, V, &p, 24, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_INFLIGHT_FD, &r, NULL), 0);
	int mfd = memfd_create("small", MFD_CLOEXEC);
	assert_int_equal(ftruncate(mfd, 4096), 0);
	p.inflight = (struct vhost_user_inflight){
		.mmap_size = 1 << 20, .num_queues = 1, .queue_size = 128};
	assert_int_equal(serve(f, VHOST_USER_SET_INFLIGHT_FD, ACK, &p, 24, &mfd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_INFLIGHT_FD), 0);
	p.inflight.mmap_size = 100; /* smaller than one queue's region */
	assert_int_equal(serve(f, VHOST_USER_SET_INFLIGHT_FD, ACK, &p, 24, &mfd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_INFLIGHT_FD), 0);
	close(mfd);
	/* With packed rings negotiated the region has the packed layout, every queue without a
	 * ring position yet; a region sized for split rings no longer fits. */
	assert_int_equal(serve(f, VHOST_USER_GET_FEATURES, V, NULL, 0, NULL, 0), 0);
	assert_int_equal(get_reply(f, VHOST_USER_GET_FEATURES, &r, NULL), 8);
	assert_true(r.u64 & (1ull << VIRTIO_F_RING_PACKED));
	p.u64 = r.u64;
	assert_int_equal(serve(f, VHOST_USER_SET_FEATURES, ACK, &p, 8, NULL, 0), 0);
	assert_int_equal(ack(f, VHOST_USER_SET_FEATURES), 0);
	p.inflight = (struct vhost_user_inflight){.num_queues = QUEUES, .queue_size = 128};
	assert_int_equal(serve(f, VHOST_USER_GET_INFLIGHT_FD, V, &p, 24, NULL, 0), 0);
	int fd;
	assert_int_equal(get_reply(f, VHOST_USER_GET_INFLIGHT_FD, &r, &fd), 24);
	assert_int_equal(r.inflight.mmap_size, QUEUES * iop_inflight_queue_bytes(128, true));
	uint8_t *map = mmap(NULL, r.inflight.mmap_size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	const struct vhost_user_inflight_packed *second =
		(const void *)(map + iop_inflight_queue_bytes(128, true));
	assert_int_equal(second->version, VHOST_USER_INFLIGHT_VERSION);
	assert_int_equal(second->desc_num, 128);
	assert_int_equal(second->free_head, 0);
	assert_int_equal(second->old_used_idx, IOP_INFLIGHT_NONE);
	munmap(map, r.inflight.mmap_size);
	r.inflight.mmap_size = QUEUES * iop_inflight_queue_bytes(128, false);
	assert_int_equal(serve(f, VHOST_USER_SET_INFLIGHT_FD, ACK, &r, 24, &fd, 1), 0);
	assert_int_not_equal(ack(f, VHOST_USER_SET_INFLIGHT_FD), 0);
	close(fd);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(features_and_reply_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(size_larger_than_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(fds, setup, teardown),
		cmocka_unit_test_setup_teardown(ring_index, setup, teardown),
		cmocka_unit_test_setup_teardown(memory_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(config, setup, teardown),
		cmocka_unit_test_setup_teardown(inflight, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
