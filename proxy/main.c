/* SPDX-License-Identifier: MIT */
/* ioproxy: the vhost-user I/O back-end. See README.md. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "blk.h"
#include "bufs.h"
#include "cli.h"
#include "fault.h"
#include "net.h"
#include "security.h"
#include "server.h"
#include "worker.h"

#ifndef IOPROXY_VERSION
#define IOPROXY_VERSION "0"
#endif

/* Allocations from this size up get a mapping of their own, returned to the kernel by free().
 * glibc's default is this value, but it raises it to the size of any such block freed, and
 * from then on serves blocks that size from its heap, which keeps their pages once they are
 * freed: each front-end that left would leave its request slots (1.8-3.6 MiB per queue)
 * resident, and where the heap is fragmented (after many front-ends came back at once) more
 * than one copy. Setting it turns that adjustment off (mallopt(3)). */
#define MMAP_THRESHOLD (128 << 10)

/* Registered files: each disk's descriptor, and its page-cache twin with direct=on. */
#define MAX_FILES (2 * IOP_MAX_DEVICES)

struct ioproxy {
	struct iop_config cfg;
	struct iop_pool pool;
	struct iop_bufs bufs;
	struct iop_dev *dev[IOP_MAX_DEVICES];
	unsigned ndev;
	int files[MAX_FILES];
	unsigned nfiles;
	int sigfd;
};

static int make_devices(struct ioproxy *p, struct host_err *err)
{
	for (unsigned i = 0; i < p->cfg.ndev; i++) {
		const struct iop_dev_cfg *c = &p->cfg.dev[i];
		int ret = c->kind == IOP_DEV_BLK
				  ? iop_blk_create(&p->dev[i], i, c, &p->pool, p->files, &p->nfiles,
						   MAX_FILES, err)
				  : iop_net_create(&p->dev[i], i, c, &p->pool, err);
		if (ret)
			return ret;
		p->ndev = i + 1;
		ret = iop_server_listen(p->dev[i], c, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Descriptors the devices may hold at once: a listening socket, a connection, a disk's two
 * or a tap's queues, each ring's kick, call and error fds, an inflight region's and the memory
 * table's while they are mapped; plus the process's own. The soft limit is raised to that; a
 * hard limit below it is an error now rather than a refused connection later. */
static int fd_budget(struct ioproxy *p, struct host_err *err)
{
	rlim_t need = 64 + 2 * (rlim_t)p->pool.n;
	for (unsigned i = 0; i < p->ndev; i++)
		need += 6 + VHOST_USER_MEM_REGIONS + 3 * (rlim_t)p->dev[i]->nq;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return host_err_set(err, errno, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return host_err_set(
			err, EMFILE,
			"%u devices need up to %llu file descriptors; the hard limit is "
			"%llu (ulimit -Hn)",
			p->ndev, (unsigned long long)need, (unsigned long long)rl.rlim_max);
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return host_err_set(err, errno, "setrlimit(RLIMIT_NOFILE, %llu): %s",
				    (unsigned long long)need, strerror(errno));
	return 0;
}

static int start_workers(struct ioproxy *p, struct host_err *err)
{
	bool fixed = iop_cli_fixed_bufs(&p->cfg);
	unsigned queues = 0;
	for (unsigned i = 0; i < p->ndev; i++)
		queues += p->dev[i]->nq;
	struct iop_worker_cfg wc = {.poll = p->cfg.poll,
				    .poll_us = p->cfg.poll_us,
				    .window_us = p->cfg.window_us,
				    .files = p->files,
				    .nfiles = p->nfiles,
				    .nbufs = fixed ? p->ndev * VHOST_USER_MEM_REGIONS : 0,
				    .max_queues = queues};
	for (unsigned i = 0; i < p->pool.n; i++) {
		int ret = iop_worker_start(&p->pool.w[i], i, &wc, err);
		if (ret)
			return ret;
	}
	if (!fixed)
		return 0;
	/* Without a pinner the devices run on readv/writev: fixed buffers are an optimization. */
	struct host_err why = {{0}};
	if (iop_bufs_start(&p->bufs, &p->pool, p->ndev, &why))
		fprintf(stderr, "ioproxy: fixed buffers off: %s\n", why.msg);
	else
		p->pool.bufs = &p->bufs;
	return 0;
}

static int setup(struct ioproxy *p, struct host_err *err)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	p->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (p->sigfd < 0)
		return host_err_set(err, errno, "signalfd: %s", strerror(errno));
	/* Before anything maps guest memory: a front-end that shrinks its memory file must
	 * cost only its own connection. */
	int ret = iop_fault_install(err);
	if (ret)
		return ret;
	p->pool.n = p->cfg.threads;
	p->pool.poll = p->cfg.poll;
	p->pool.poll_us = p->cfg.poll_us;
	p->pool.w = calloc(p->pool.n, sizeof(*p->pool.w));
	if (!p->pool.w)
		return host_err_set(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < p->pool.n; i++)
		p->pool.w[i].bell_fd = -1;
	ret = make_devices(p, err);
	bool net_admin = false;
	for (unsigned i = 0; i < p->cfg.ndev; i++)
		net_admin |= p->cfg.dev[i].kind == IOP_DEV_NET && p->cfg.dev[i].net.queues > 1;
	if (!ret)
		ret = fd_budget(p, err);
	if (!ret)
		ret = iop_security_drop(p->cfg.user, net_admin, err);
	if (!ret)
		ret = start_workers(p, err);
	if (!ret && p->cfg.seccomp)
		ret = iop_security_seccomp(err);
	return ret;
}

static void teardown(struct ioproxy *p)
{
	/* The pinner asks the queue threads to take tables: it goes first. */
	if (p->pool.bufs)
		iop_bufs_stop(p->pool.bufs);
	p->pool.bufs = NULL;
	for (unsigned i = 0; p->pool.w && i < p->pool.n; i++)
		if (p->pool.w[i].running || p->pool.w[i].bell_fd >= 0)
			iop_worker_stop(&p->pool.w[i]);
	for (unsigned i = 0; i < p->ndev; i++)
		p->dev[i]->ops->destroy(p->dev[i]);
	free(p->pool.w);
	iop_cli_free(&p->cfg);
}

int main(int argc, char **argv)
{
	static struct ioproxy p;
	struct host_err err = {{0}};
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	int ret = iop_cli_parse(argc, argv, &p.cfg, &err);
	if (ret < 0) {
		fprintf(stderr, "ioproxy: %s\n", err.msg);
		iop_cli_free(&p.cfg);
		return 1;
	}
	switch (ret) {
	case IOP_CLI_HELP:
		fputs(iop_cli_usage, stdout);
		return 0;
	case IOP_CLI_VERSION:
		printf("ioproxy %s\n", IOPROXY_VERSION);
		return 0;
	case IOP_CLI_CAPABILITIES:
		fputs(iop_cli_capabilities(&p.cfg), stdout);
		return 0;
	}
	ret = setup(&p, &err);
	if (ret) {
		fprintf(stderr, "ioproxy: %s\n", err.msg);
		teardown(&p);
		return 1;
	}
	for (unsigned i = 0; i < p.ndev; i++)
		fprintf(stderr, "ioproxy: %s: serving %s on %s (%u queue%s)\n", p.dev[i]->name,
			p.cfg.dev[i].kind == IOP_DEV_BLK ? p.cfg.dev[i].blk.path
							 : p.cfg.dev[i].net.name,
			p.cfg.dev[i].socket ? p.cfg.dev[i].socket : "the given fd", p.dev[i]->nq,
			p.dev[i]->nq == 1 ? "" : "s");
	ret = iop_server_run(p.dev, p.ndev, p.sigfd);
	teardown(&p);
	return ret;
}
