/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac_addr.h"

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
	"  --threads N        queue threads, each with its own io_uring (1)\n"
	"  --user NAME        run as this user once set up (when started as root)\n"
	"  --print-capabilities, --help, --version\n";

static int number(const char *opt, const char *val, unsigned long lo, unsigned long hi,
		  unsigned *out, struct host_err *err)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(val, &end, 10);
	if (!isdigit((unsigned char)*val) || *end || errno || n < lo || n > hi)
		return host_err_set(err, EINVAL, "%s%s%s: give a number from %lu to %lu", opt,
				    opt[strlen(opt) - 1] == '=' ? "" : " ", val, lo, hi);
	*out = (unsigned)n;
	return 0;
}

static int on_off(const char *opt, const char *key, const char *val, bool *out,
		  struct host_err *err)
{
	if (!strcmp(val, "on") || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false"))
		*out = false;
	else
		return host_err_set(err, EINVAL, "%s: %s=%s: use on or off", opt, key, val);
	return 0;
}

static int blk_pair(struct iop_dev_cfg *d, const char *key, const char *val, struct host_err *err)
{
	if (!strcmp(key, "path"))
		d->path = val;
	else if (!strcmp(key, "readonly"))
		return on_off("--blk", key, val, &d->readonly, err);
	else if (!strcmp(key, "direct"))
		return on_off("--blk", key, val, &d->direct, err);
	else if (!strcmp(key, "queues"))
		return number("--blk queues=", val, 1, IOP_CLI_MAX_QUEUES, &d->queues, err);
	else if (!strcmp(key, "serial")) {
		if (strlen(val) > IOP_SERIAL_MAX)
			return host_err_set(err, EINVAL, "--blk: serial=%s: at most %d characters",
					    val, IOP_SERIAL_MAX);
		memcpy(d->serial, val, strlen(val) + 1);
	} else
		return host_err_set(err, EINVAL,
				    "--blk: unknown key '%s' (known: path, readonly, direct, "
				    "queues, serial)",
				    key);
	return 0;
}

static int net_pair(struct iop_dev_cfg *d, const char *key, const char *val, struct host_err *err)
{
	if (!strcmp(key, "tap")) {
		if (strlen(val) >= sizeof(d->tap))
			return host_err_set(err, EINVAL,
					    "--net: tap=%s: interface names have at most 15 "
					    "characters",
					    val);
		memcpy(d->tap, val, strlen(val) + 1);
	} else if (!strcmp(key, "queues")) {
		return number("--net queues=", val, 1, IOP_CLI_MAX_QUEUES / 2, &d->queues, err);
	} else if (!strcmp(key, "mac")) {
		if (mac_addr_parse(val, d->mac))
			return host_err_set(err, EINVAL, "--net: mac=%s: give a unicast address",
					    val);
		d->mac_set = true;
	} else {
		return host_err_set(err, EINVAL,
				    "--net: unknown key '%s' (known: tap, queues, mac)", key);
	}
	return 0;
}

/* "k=v,k=v" into d; the values point into a copy kept in cfg->owned. */
static int device(struct iop_config *cfg, enum iop_dev_kind kind, const char *arg,
		  struct host_err *err)
{
	const char *opt = kind == IOP_DEV_BLK ? "--blk" : "--net";
	if (cfg->ndev == IOP_MAX_DEVICES)
		return host_err_set(err, EINVAL, "%s: at most %d devices", opt, IOP_MAX_DEVICES);
	struct iop_dev_cfg *d = &cfg->dev[cfg->ndev];
	char *copy = strdup(arg);
	if (!copy)
		return host_err_set(err, ENOMEM, "out of memory");
	cfg->owned[cfg->ndev++] = copy;
	d->kind = kind;
	d->queues = 1;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1])
			return host_err_set(err, EINVAL, "%s %s: '%s' is not key=value", opt, arg,
					    tok);
		*eq = 0;
		int ret = kind == IOP_DEV_BLK ? blk_pair(d, tok, eq + 1, err)
					      : net_pair(d, tok, eq + 1, err);
		if (ret)
			return ret;
	}
	if (kind == IOP_DEV_BLK && !d->path)
		return host_err_set(err, EINVAL, "--blk %s: no path=FILE given", arg);
	if (kind == IOP_DEV_NET && !d->tap[0])
		return host_err_set(err, EINVAL, "--net %s: no tap=NAME given", arg);
	return 0;
}

struct sock_spec {
	const char *path;
	int fd;
};

static int add_socket(struct sock_spec *s, unsigned *n, const char *path, int fd,
		      struct host_err *err)
{
	if (*n == IOP_MAX_DEVICES)
		return host_err_set(err, EINVAL, "at most %d sockets", IOP_MAX_DEVICES);
	for (unsigned i = 0; path && i < *n; i++)
		if (s[i].path && !strcmp(s[i].path, path))
			return host_err_set(err, EINVAL, "--socket %s given twice", path);
	if (path && strlen(path) >= 108) /* sizeof(sun_path) */
		return host_err_set(err, ENAMETOOLONG, "--socket %s: the path is too long", path);
	s[(*n)++] = (struct sock_spec){.path = path, .fd = fd};
	return 0;
}

/* Splits "--opt=value" / "--opt value"; returns the value or NULL (and an error). */
static const char *value(int argc, char **argv, int *i, const char *opt, const char *eq,
			 struct host_err *err)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		host_err_set(err, EINVAL, "%s needs a value", opt);
		return NULL;
	}
	return argv[++*i];
}

static int finish(struct iop_config *cfg, struct sock_spec *s, unsigned nsock, bool read_only,
		  struct host_err *err)
{
	if (cfg->ndev == 0)
		return host_err_set(err, EINVAL,
				    "no device: give --socket PATH with --blk or --net "
				    "(see --help)");
	if (nsock != cfg->ndev)
		return host_err_set(err, EINVAL,
				    "%u device(s) but %u socket(s): give one socket "
				    "per device",
				    cfg->ndev, nsock);
	for (unsigned i = 0; i < cfg->ndev; i++) {
		cfg->dev[i].socket = s[i].path;
		cfg->dev[i].listen_fd = s[i].fd;
		if (read_only && cfg->dev[i].kind == IOP_DEV_BLK)
			cfg->dev[i].readonly = true;
	}
	return IOP_CLI_RUN;
}

int iop_cli_parse(int argc, char **argv, struct iop_config *cfg, struct host_err *err)
{
	struct sock_spec socks[IOP_MAX_DEVICES];
	unsigned nsock = 0;
	bool read_only = false;
	memset(cfg, 0, sizeof(*cfg));
	cfg->threads = 1;
	cfg->seccomp = true;
	for (int i = 1; i < argc; i++) /* these win over everything else, errors included */
		if (!strcmp(argv[i], "--print-capabilities")) {
			for (int k = 1; k < argc; k++)
				cfg->caps_net |= strncmp(argv[k], "--net", 5) == 0;
			return IOP_CLI_CAPABILITIES;
		}
	for (int i = 1; i < argc; i++) {
		char opt[32];
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		if (len >= sizeof(opt) || strncmp(a, "--", 2) != 0)
			return host_err_set(err, EINVAL, "unexpected argument '%s' (see --help)",
					    a);
		memcpy(opt, a, len);
		opt[len] = 0;
		const char *v = NULL;
		int ret = 0;
		if (!strcmp(opt, "--help") || !strcmp(opt, "--version")) {
			return opt[2] == 'h' ? IOP_CLI_HELP : IOP_CLI_VERSION;
		} else if (!strcmp(opt, "--socket") || !strcmp(opt, "--socket-path")) {
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			if (!*v)
				return host_err_set(err, EINVAL, "%s: empty path", opt);
			ret = add_socket(socks, &nsock, v, -1, err);
		} else if (!strcmp(opt, "--fd")) {
			unsigned fd = 0;
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			ret = number("--fd", v, 0, INT_MAX, &fd, err);
			if (!ret)
				ret = add_socket(socks, &nsock, NULL, (int)fd, err);
		} else if (!strcmp(opt, "--blk") || !strcmp(opt, "--net")) {
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			ret = device(cfg, opt[2] == 'b' ? IOP_DEV_BLK : IOP_DEV_NET, v, err);
		} else if (!strcmp(opt, "--blk-file")) {
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			if (!*v || strchr(v, ','))
				return host_err_set(err, EINVAL,
						    "--blk-file %s: give a plain path "
						    "(no commas)",
						    v);
			char spec[PATH_MAX + 8];
			snprintf(spec, sizeof(spec), "path=%s", v);
			ret = device(cfg, IOP_DEV_BLK, spec, err);
		} else if (!strcmp(opt, "--read-only") && !eq) {
			read_only = true;
		} else if (!strcmp(opt, "--poll")) {
			cfg->poll = true;
			cfg->poll_us = IOP_DEFAULT_POLL_US;
			if (eq)
				ret = number("--poll", eq + 1, 0, IOP_MAX_POLL_US, &cfg->poll_us,
					     err);
		} else if (!strcmp(opt, "--threads")) {
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			ret = number("--threads", v, 1, IOP_MAX_THREADS, &cfg->threads, err);
		} else if (!strcmp(opt, "--user")) {
			if (!(v = value(argc, argv, &i, opt, eq, err)))
				return -EINVAL;
			if (!*v)
				return host_err_set(err, EINVAL, "--user: empty name");
			cfg->user = v;
		} else if (!strcmp(opt, "--no-seccomp") && !eq) {
			cfg->seccomp = false;
		} else {
			return host_err_set(err, EINVAL, "unknown option '%s' (see --help)", a);
		}
		if (ret)
			return ret;
	}
	return finish(cfg, socks, nsock, read_only, err);
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
