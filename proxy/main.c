/* SPDX-License-Identifier: MIT */
/* ioproxy: the vhost-user I/O back-end. See README.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>

#include "blk.h"
#include "cli.h"
#include "fault.h"
#include "net.h"
#include "security.h"
#include "server.h"
#include "worker.h"

#ifndef IOPROXY_VERSION
#define IOPROXY_VERSION "0"
#endif

struct ioproxy {
	struct iop_config cfg;
	struct iop_pool pool;
	struct iop_dev *dev[IOP_MAX_DEVICES];
	unsigned ndev;
	int files[IOP_MAX_FILES];
	unsigned nfiles;
	int sigfd;
};

static int make_devices(struct ioproxy *p, struct host_err *err)
{
	for (unsigned i = 0; i < p->cfg.ndev; i++) {
		const struct iop_dev_cfg *c = &p->cfg.dev[i];
		int ret = c->kind == IOP_DEV_BLK
				  ? iop_blk_create(&p->dev[i], i, c, &p->pool, p->files, &p->nfiles,
						   IOP_MAX_FILES, err)
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

static int start_workers(struct ioproxy *p, struct host_err *err)
{
	struct iop_worker_cfg wc = {.poll = p->cfg.poll,
				    .poll_us = p->cfg.poll_us,
				    .files = p->files,
				    .nfiles = p->nfiles};
	for (unsigned i = 0; i < p->pool.n; i++) {
		int ret = iop_worker_start(&p->pool.w[i], i, &wc, err);
		if (ret)
			return ret;
	}
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
		ret = iop_security_drop(p->cfg.user, net_admin, err);
	if (!ret)
		ret = start_workers(p, err);
	if (!ret && p->cfg.seccomp)
		ret = iop_security_seccomp(err);
	return ret;
}

static void teardown(struct ioproxy *p)
{
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
