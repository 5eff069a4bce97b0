/* SPDX-License-Identifier: MIT */
#include "devopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/opts.h"

/* enum vmm_transport: the virtio transports, and for disks also the ATA (PIIX IDE) controller. */
static const char *const transports[] = {"pci", "mmio", NULL};
static const char *const disk_transports[] = {"pci", "mmio", "ata", NULL};
static const char *const ata_opts[] = {VMM_ATA_OPT_WORDS, NULL};
static const char *const pcnet_opts[] = {VMM_PCNET_OPT_WORDS, NULL};

static const struct host_opt_key disk_keys[] = {
	HOST_BLK_OPT_KEYS(struct vmm_disk_config, blk),
	{"vhost-user", host_opt_str, offsetof(struct vmm_disk_config, vhost_user), 0, 0, NULL},
	{"transport", host_opt_enum, offsetof(struct vmm_disk_config, transport), 0, 0,
	 disk_transports},
	{"boot", host_opt_bool, offsetof(struct vmm_disk_config, boot), 0, 0, NULL},
	{"opt", host_opt_set, offsetof(struct vmm_disk_config, opt), 0, 0, ata_opts},
	{0},
};

int vmm_parse_disk(const char *arg, struct vmm_disk_config *d, struct host_err *err)
{
	*d = (struct vmm_disk_config){.blk.queues = 1};
	/* The path points into this copy, which lives as long as the configuration. */
	char *copy = strdup(arg);
	if (!copy)
		return host_err_set(err, ENOMEM, "out of memory");
	d->owned = copy;
	int ret = host_opts_parse("--disk", arg, copy, disk_keys, d, err);
	if (!ret && !d->blk.path == !d->vhost_user)
		ret = host_err_set(err, EINVAL,
				   "--disk %s: give path=FILE or vhost-user=SOCKET (one of them)",
				   arg);
	/* An ATA disk is vmmon's own device on one channel: no back-end, one command at a time. */
	if (!ret && d->transport == VMM_TRANSPORT_ATA && d->vhost_user)
		ret = host_err_set(err, EINVAL,
				   "--disk %s: transport=ata takes path=FILE, not vhost-user", arg);
	if (!ret && d->transport == VMM_TRANSPORT_ATA && d->blk.queues > 1)
		ret = host_err_set(err, EINVAL, "--disk %s: transport=ata has no queues=", arg);
	/* The optimisations spare exits on the ATA ports; virtio's data path has none. */
	if (!ret && d->opt.given && d->transport != VMM_TRANSPORT_ATA)
		ret = host_err_set(err, EINVAL,
				   "--disk %s: opt= is the ATA disk's (transport=ata); a virtio "
				   "disk's data path takes no exits to spare",
				   arg);
	if (!d->opt.given)
		d->opt.mask = VMM_ATA_OPT_ALL;
	return ret;
}

static const char *const net_models[] = {"virtio", "pcnet", NULL}; /* enum vmm_net_model */

static const struct host_opt_key net_keys[] = {
	HOST_TAP_OPT_KEYS(struct vmm_net_config, tap),
	{"model", host_opt_enum, offsetof(struct vmm_net_config, model), 0, 0, net_models},
	{"vhost-user", host_opt_strbuf, offsetof(struct vmm_net_config, vhost_user), 0,
	 sizeof(((struct vmm_net_config *)0)->vhost_user) - 1, NULL},
	{"transport", host_opt_enum, offsetof(struct vmm_net_config, transport), 0, 0, transports},
	{"opt", host_opt_set, offsetof(struct vmm_net_config, opt), 0, 0, pcnet_opts},
	{"combine_frames", host_opt_uint, offsetof(struct vmm_net_config, combine_frames), 1,
	 VMM_PCNET_COMBINE_MAX, NULL},
	{"combine_us", host_opt_uint, offsetof(struct vmm_net_config, combine_us), 1, 1000000,
	 NULL},
	{"coalesce_us", host_opt_uint, offsetof(struct vmm_net_config, coalesce_us), 1, 1000000,
	 NULL},
	{0},
};

/* The PCnet is a PCI function with one transmit and one receive ring, served from a tap. */
static int check_pcnet(const char *arg, const struct vmm_net_config *n, struct host_err *err)
{
	if (n->vhost_user[0])
		return host_err_set(err, EINVAL,
				    "--net %s: model=pcnet takes tap=NAME (a vhost-user back-end "
				    "serves virtio queues)",
				    arg);
	if (n->tap.queues > 1)
		return host_err_set(err, EINVAL, "--net %s: model=pcnet has one queue pair", arg);
	if (n->transport == VMM_TRANSPORT_MMIO)
		return host_err_set(err, EINVAL,
				    "--net %s: model=pcnet is a PCI device (transport=mmio is "
				    "virtio's)",
				    arg);
	return 0;
}

/* opt= and its bounds are the PCnet's: virtio-net's data path takes no exits to spare. */
static int check_virtio(const char *arg, const struct vmm_net_config *n, struct host_err *err)
{
	if (n->opt.given || n->combine_frames || n->combine_us || n->coalesce_us)
		return host_err_set(err, EINVAL,
				    "--net %s: opt=, combine_frames=, combine_us= and "
				    "coalesce_us= are model=pcnet's",
				    arg);
	return 0;
}

int vmm_parse_net(const char *arg, struct vmm_net_config *n, struct host_err *err)
{
	char buf[256];
	*n = (struct vmm_net_config){.tap.queues = 1};
	if (strlen(arg) >= sizeof(buf))
		return host_err_set(err, EINVAL, "--net: the option is too long");
	memcpy(buf, arg, strlen(arg) + 1);
	int ret = host_opts_parse("--net", arg, buf, net_keys, n, err);
	if (!ret && !n->tap.name[0] == !n->vhost_user[0])
		ret = host_err_set(err, EINVAL,
				   "--net %s: give tap=NAME or vhost-user=SOCKET (one of them)",
				   arg);
	if (!ret)
		ret = n->model == VMM_NET_PCNET ? check_pcnet(arg, n, err)
						: check_virtio(arg, n, err);
	if (!n->opt.given)
		n->opt.mask = VMM_PCNET_OPT_ALL;
	if (!n->combine_frames)
		n->combine_frames = VMM_PCNET_COMBINE_FRAMES;
	if (!n->combine_us)
		n->combine_us = VMM_PCNET_COMBINE_US;
	if (!n->coalesce_us)
		n->coalesce_us = VMM_PCNET_COALESCE_US;
	return ret;
}

/* "transport=pci|mmio" for the options that take only that key. */
static int transport(const char *opt, const char *val, enum vmm_transport *out,
		     struct host_err *err)
{
	static const struct host_opt_key key = {"transport", host_opt_enum, 0, 0, 0, transports};
	return host_opt_enum(&key, opt, val, out, err);
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
		cfg->disks[i].blk.path = NULL;
	}
	/* Tap queues passed through the API: the configuration owns them (devices use dups). */
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		struct host_tap_opts *t = &cfg->nets[i].tap;
		for (unsigned k = 0; k < t->nfds; k++)
			if (t->fd[k] >= 0)
				close(t->fd[k]);
		t->nfds = 0;
	}
}
