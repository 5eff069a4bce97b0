/* SPDX-License-Identifier: MIT */
#include "devopts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac_addr.h"

#define MAX_QUEUES 16

/* Walks "k=v,k=v" in buf (tokenised in place; values point into it): calls fn for each pair.
 * A value is never empty. Returns 0 or -EINVAL. */
static int each_pair(const char *opt, const char *arg, char *buf, struct host_err *err,
		     int (*fn)(const char *key, const char *val, void *ctx, struct host_err *err),
		     void *ctx)
{
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1])
			return host_err_set(err, EINVAL, "%s %s: '%s' is not key=value", opt, arg,
					    tok);
		*eq = 0;
		int ret = fn(tok, eq + 1, ctx, err);
		if (ret)
			return ret;
	}
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

static int queues(const char *opt, const char *val, unsigned *out, struct host_err *err)
{
	char *end;
	unsigned long n = strtoul(val, &end, 10);
	if (!isdigit((unsigned char)*val) || *end || n < 1 || n > MAX_QUEUES)
		return host_err_set(err, EINVAL, "%s: queues=%s: give 1 to %d", opt, val,
				    MAX_QUEUES);
	*out = (unsigned)n;
	return 0;
}

static int transport(const char *opt, const char *val, enum vmm_transport *out,
		     struct host_err *err)
{
	if (!strcmp(val, "pci"))
		*out = VMM_TRANSPORT_PCI;
	else if (!strcmp(val, "mmio"))
		*out = VMM_TRANSPORT_MMIO;
	else
		return host_err_set(err, EINVAL, "%s: transport=%s: use pci or mmio", opt, val);
	return 0;
}

static int disk_pair(const char *key, const char *val, void *ctx, struct host_err *err)
{
	struct vmm_disk_config *d = ctx;
	if (!strcmp(key, "path"))
		d->path = val;
	else if (!strcmp(key, "vhost-user"))
		d->vhost_user = val;
	else if (!strcmp(key, "readonly"))
		return on_off("--disk", key, val, &d->readonly, err);
	else if (!strcmp(key, "direct"))
		return on_off("--disk", key, val, &d->direct, err);
	else if (!strcmp(key, "queues"))
		return queues("--disk", val, &d->queues, err);
	else if (!strcmp(key, "transport"))
		return transport("--disk", val, &d->transport, err);
	else if (!strcmp(key, "serial")) {
		if (strlen(val) > VMM_SERIAL_MAX)
			return host_err_set(err, EINVAL, "--disk: serial=%s: at most %d characters",
					    val, VMM_SERIAL_MAX);
		memcpy(d->serial, val, strlen(val) + 1);
	} else
		return host_err_set(err, EINVAL,
				    "--disk: unknown key '%s' (known: path, readonly, "
				    "queues, direct, transport, serial)",
				    key);
	return 0;
}

int vmm_parse_disk(const char *arg, struct vmm_disk_config *d, struct host_err *err)
{
	*d = (struct vmm_disk_config){.queues = 1};
	/* The path points into this copy, which lives as long as the configuration. */
	char *copy = strdup(arg);
	if (!copy)
		return host_err_set(err, ENOMEM, "out of memory");
	d->owned = copy;
	int ret = each_pair("--disk", arg, copy, err, disk_pair, d);
	if (!ret && !d->path == !d->vhost_user)
		ret = host_err_set(err, EINVAL,
				   "--disk %s: give path=FILE or vhost-user=SOCKET "
				   "(one of them)",
				   arg);
	return ret;
}

static int net_pair(const char *key, const char *val, void *ctx, struct host_err *err)
{
	struct vmm_net_config *n = ctx;
	if (!strcmp(key, "tap")) {
		if (strlen(val) >= sizeof(n->tap))
			return host_err_set(err, EINVAL,
					    "--net: tap=%s: interface names have at most "
					    "15 characters",
					    val);
		memcpy(n->tap, val, strlen(val) + 1);
	} else if (!strcmp(key, "vhost-user")) {
		if (strlen(val) >= sizeof(n->vhost_user))
			return host_err_set(err, EINVAL, "--net: vhost-user=%s: path too long",
					    val);
		memcpy(n->vhost_user, val, strlen(val) + 1);
	} else if (!strcmp(key, "mac")) {
		if (mac_addr_parse(val, n->mac))
			return host_err_set(err, EINVAL,
					    "--net: mac=%s: give a unicast address such "
					    "as 52:54:00:12:34:56",
					    val);
		n->mac_set = true;
	} else if (!strcmp(key, "queues")) {
		return queues("--net", val, &n->queues, err);
	} else if (!strcmp(key, "transport")) {
		return transport("--net", val, &n->transport, err);
	} else {
		return host_err_set(err, EINVAL,
				    "--net: unknown key '%s' (known: tap, mac, queues, "
				    "transport)",
				    key);
	}
	return 0;
}

int vmm_parse_net(const char *arg, struct vmm_net_config *n, struct host_err *err)
{
	char buf[256];
	*n = (struct vmm_net_config){.queues = 1};
	if (strlen(arg) >= sizeof(buf))
		return host_err_set(err, EINVAL, "--net: the option is too long");
	memcpy(buf, arg, strlen(arg) + 1);
	int ret = each_pair("--net", arg, buf, err, net_pair, n);
	if (!ret && !n->tap[0] == !n->vhost_user[0])
		ret = host_err_set(err, EINVAL,
				   "--net %s: give tap=NAME or vhost-user=SOCKET (one of "
				   "them)",
				   arg);
	return ret;
}

int vmm_parse_console(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	if (!strcmp(arg, "off")) {
		cfg->virtio_console = false;
		return 0;
	}
	if (strncmp(arg, "virtio", 6) != 0 || (arg[6] && arg[6] != ','))
		return host_err_set(err, EINVAL,
				    "--console %s: use virtio[,transport=pci|mmio] or "
				    "off",
				    arg);
	cfg->virtio_console = true;
	if (!arg[6])
		return 0;
	if (strncmp(arg + 7, "transport=", 10) != 0)
		return host_err_set(err, EINVAL, "--console %s: the only key is transport", arg);
	return transport("--console", arg + 17, &cfg->console_transport, err);
}

int vmm_parse_rng(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	cfg->rng = true;
	if (!arg || !*arg)
		return 0;
	if (strncmp(arg, "transport=", 10) != 0)
		return host_err_set(err, EINVAL, "--rng %s: the only key is transport", arg);
	return transport("--rng", arg + 10, &cfg->rng_transport, err);
}

void vmm_config_free(struct vmm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].owned);
		cfg->disks[i].owned = NULL;
		cfg->disks[i].path = NULL;
	}
}
