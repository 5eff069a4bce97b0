/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/opts.h"

const char iop_cli_usage[] =
	"usage: ioproxy --socket PATH --blk path=FILE[,readonly=on][,direct=on][,queues=N]"
	"[,serial=ID]\n"
	"       ioproxy --socket PATH --net tap=NAME[,queues=N][,mac=MAC]\n"
	"  (repeat the pair for more devices, one socket each)\n"
	"options:\n"
	"  --socket PATH, --socket-path=PATH  listen on this vhost-user socket\n"
	"  --fd=FD                            serve an already listening socket\n"
	"  --blk-file=PATH, --read-only       the vhost-user-blk back-end conventions\n"
	"  --poll[=USEC]      busy-poll rings and completions, sleeping after USEC idle (100)\n"
	"  --poll-window=USEC  event mode: after chains, watch the rings up to USEC before\n"
	"                     sleeping, adapting below that bound; 0: off (200)\n"
	"  --threads N        queue threads, each with its own io_uring (1)\n"
	"  --fixed-buffers=on|off|auto  register (pin) guest memory with io_uring; auto: on\n"
	"                     with --poll (auto)\n"
	"  --user NAME        run as this user once set up (when started as root)\n"
	"  --print-capabilities, --help, --version\n";

enum {
	OPT_SOCKET = 256,
	OPT_FD,
	OPT_BLK,
	OPT_NET,
	OPT_BLK_FILE,
	OPT_READ_ONLY,
	OPT_POLL,
	OPT_POLL_WINDOW,
	OPT_THREADS,
	OPT_FIXED_BUFS,
	OPT_USER,
	OPT_NO_SECCOMP,
	OPT_CAPS,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"socket-path", required_argument, NULL, OPT_SOCKET},
	{"fd", required_argument, NULL, OPT_FD},
	{"blk", required_argument, NULL, OPT_BLK},
	{"net", required_argument, NULL, OPT_NET},
	{"blk-file", required_argument, NULL, OPT_BLK_FILE},
	{"read-only", no_argument, NULL, OPT_READ_ONLY},
	{"poll", optional_argument, NULL, OPT_POLL},
	{"poll-window", required_argument, NULL, OPT_POLL_WINDOW},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"fixed-buffers", required_argument, NULL, OPT_FIXED_BUFS},
	{"user", required_argument, NULL, OPT_USER},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{"print-capabilities", no_argument, NULL, OPT_CAPS},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{0},
};

static const struct host_opt_key blk_keys[] = {
	HOST_BLK_OPT_KEYS(struct iop_dev_cfg, blk),
	{0},
};

static const struct host_opt_key net_keys[] = {
	HOST_TAP_OPT_KEYS(struct iop_dev_cfg, net),
	{0},
};

/* Sockets as given, paired with the devices in order at the end. */
struct parse {
	struct iop_config *cfg;
	struct {
		const char *path;
		int fd;
	} sock[IOP_MAX_DEVICES];
	unsigned nsock;
	bool read_only;
	bool window_given;
};

/* "k=v,k=v" into a new device; the values point into a copy kept in cfg->owned. */
static int device(struct iop_config *cfg, enum iop_dev_kind kind, const char *arg,
		  struct host_err *err)
{
	const char *opt = kind == IOP_DEV_BLK ? "--blk" : "--net";
	if (cfg->ndev == IOP_MAX_DEVICES)
		return host_err_set(
			err, EINVAL,
			"%s: at most %d devices in one ioproxy (start another for more)", opt,
			IOP_MAX_DEVICES);
	struct iop_dev_cfg *d = &cfg->dev[cfg->ndev];
	char *copy = strdup(arg);
	if (!copy)
		return host_err_set(err, ENOMEM, "out of memory");
	cfg->owned[cfg->ndev++] = copy;
	d->kind = kind;
	d->blk.queues = d->net.queues = 1;
	int ret =
		host_opts_parse(opt, arg, copy, kind == IOP_DEV_BLK ? blk_keys : net_keys, d, err);
	if (ret)
		return ret;
	if (kind == IOP_DEV_BLK && !d->blk.path)
		return host_err_set(err, EINVAL, "--blk %s: no path=FILE given", arg);
	if (kind == IOP_DEV_NET && !d->net.name[0])
		return host_err_set(err, EINVAL, "--net %s: no tap=NAME given", arg);
	return 0;
}

static int add_socket(struct parse *p, const char *path, int fd, struct host_err *err)
{
	if (p->nsock == IOP_MAX_DEVICES)
		return host_err_set(err, EINVAL,
				    "at most %d sockets in one ioproxy (start another for more)",
				    IOP_MAX_DEVICES);
	if (path && !*path)
		return host_err_set(err, EINVAL, "--socket: empty path");
	for (unsigned i = 0; path && i < p->nsock; i++)
		if (p->sock[i].path && !strcmp(p->sock[i].path, path))
			return host_err_set(err, EINVAL, "--socket %s given twice", path);
	if (path && strlen(path) >= 108) /* sizeof(sun_path) */
		return host_err_set(err, ENAMETOOLONG, "--socket %s: the path is too long", path);
	p->sock[p->nsock].path = path;
	p->sock[p->nsock++].fd = fd;
	return 0;
}

static int blk_file(struct iop_config *cfg, const char *path, struct host_err *err)
{
	if (!*path || strchr(path, ','))
		return host_err_set(err, EINVAL, "--blk-file %s: give a plain path (no commas)",
				    path);
	char spec[PATH_MAX + 8];
	snprintf(spec, sizeof(spec), "path=%s", path);
	return device(cfg, IOP_DEV_BLK, spec, err);
}

static int fixed_bufs(struct iop_config *cfg, const char *arg, struct host_err *err)
{
	static const char *const names[] = {
		[IOP_FIXED_AUTO] = "auto", [IOP_FIXED_ON] = "on", [IOP_FIXED_OFF] = "off"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i])) {
			cfg->fixed_bufs = (enum iop_fixed_bufs)i;
			return 0;
		}
	return host_err_set(err, EINVAL, "--fixed-buffers=%s: give on, off or auto", arg);
}

static int parse_option(struct parse *p, int opt, const char *arg, struct host_err *err)
{
	struct iop_config *cfg = p->cfg;
	unsigned fd;
	int ret;
	switch (opt) {
	case OPT_SOCKET:
		return add_socket(p, arg, -1, err);
	case OPT_FD:
		ret = host_opt_number("--fd", arg, 0, INT_MAX, &fd, err);
		return ret ? ret : add_socket(p, NULL, (int)fd, err);
	case OPT_BLK:
	case OPT_NET:
		return device(cfg, opt == OPT_BLK ? IOP_DEV_BLK : IOP_DEV_NET, arg, err);
	case OPT_BLK_FILE:
		return blk_file(cfg, arg, err);
	case OPT_READ_ONLY:
		p->read_only = true;
		return 0;
	case OPT_POLL:
		cfg->poll = true;
		cfg->poll_us = IOP_DEFAULT_POLL_US;
		return arg ? host_opt_number("--poll", arg, 0, IOP_MAX_POLL_US, &cfg->poll_us, err)
			   : 0;
	case OPT_POLL_WINDOW:
		p->window_given = true;
		return host_opt_number("--poll-window", arg, 0, IOP_MAX_POLL_WINDOW_US,
				       &cfg->window_us, err);
	case OPT_THREADS:
		return host_opt_number("--threads", arg, 1, IOP_MAX_THREADS, &cfg->threads, err);
	case OPT_FIXED_BUFS:
		return fixed_bufs(cfg, arg, err);
	case OPT_USER:
		if (!*arg)
			return host_err_set(err, EINVAL, "--user: empty name");
		cfg->user = arg;
		return 0;
	case OPT_NO_SECCOMP:
		cfg->seccomp = false;
		return 0;
	}
	return host_err_set(err, EINVAL, "unhandled option");
}

/* Sockets and devices pair up in order. */
static int finish(struct parse *p, struct host_err *err)
{
	struct iop_config *cfg = p->cfg;
	if (cfg->ndev == 0)
		return host_err_set(
			err, EINVAL,
			"no device: give --socket PATH with --blk or --net (see --help)");
	if (p->window_given && cfg->poll)
		return host_err_set(err, EINVAL,
				    "--poll-window is for event mode: --poll polls all the time");
	if (p->nsock != cfg->ndev)
		return host_err_set(err, EINVAL,
				    "%u device(s) but %u socket(s): give one socket per device",
				    cfg->ndev, p->nsock);
	for (unsigned i = 0; i < cfg->ndev; i++) {
		cfg->dev[i].socket = p->sock[i].path;
		cfg->dev[i].listen_fd = p->sock[i].fd;
		if (p->read_only && cfg->dev[i].kind == IOP_DEV_BLK)
			cfg->dev[i].blk.readonly = true;
	}
	return IOP_CLI_RUN;
}

int iop_cli_parse(int argc, char **argv, struct iop_config *cfg, struct host_err *err)
{
	struct parse p = {.cfg = cfg};
	memset(cfg, 0, sizeof(*cfg));
	cfg->threads = 1;
	cfg->window_us = IOP_DEFAULT_POLL_WINDOW_US;
	cfg->seccomp = true;
	for (int i = 1; i < argc; i++) /* these win over everything else, errors included */
		if (!strcmp(argv[i], "--print-capabilities")) {
			for (int k = 1; k < argc; k++)
				cfg->caps_net |= strncmp(argv[k], "--net", 5) == 0;
			return IOP_CLI_CAPABILITIES;
		}
	opterr = 0; /* our own one-line messages */
	optind = 0; /* glibc: 0 also resets getopt's state, so parsing can repeat */
	int opt;
	/* "+": stop at the first non-option instead of reordering argv. */
	while ((opt = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
		const char *a = argv[optind - 1];
		switch (opt) {
		case OPT_HELP:
			return IOP_CLI_HELP;
		case OPT_VERSION:
			return IOP_CLI_VERSION;
		case ':':
			return host_err_set(err, EINVAL, "%s needs a value (see --help)", a);
		case '?':
			return host_err_set(err, EINVAL, "unknown option '%s' (see --help)", a);
		default: {
			int ret = parse_option(&p, opt, optarg, err);
			if (ret)
				return ret;
		}
		}
	}
	if (optind < argc)
		return host_err_set(err, EINVAL, "unexpected argument '%s' (see --help)",
				    argv[optind]);
	return finish(&p, err);
}

bool iop_cli_fixed_bufs(const struct iop_config *cfg)
{
	return cfg->fixed_bufs == IOP_FIXED_ON || (cfg->fixed_bufs == IOP_FIXED_AUTO && cfg->poll);
}

void iop_cli_free(struct iop_config *cfg)
{
	for (unsigned i = 0; i < IOP_MAX_DEVICES; i++) {
		free(cfg->owned[i]);
		cfg->owned[i] = NULL;
	}
}

const char *iop_cli_capabilities(const struct iop_config *cfg)
{
	/* The schema's types are "block" and "net"; only block back-ends have features. */
	return cfg->caps_net
		       ? "{\"type\": \"net\"}\n"
		       : "{\"type\": \"block\", \"features\": [\"read-only\", \"blk-file\"]}\n";
}
