/* SPDX-License-Identifier: MIT */
#include "vmconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/opts.h"
#include "layout.h"
#include "mp.h"

/* The defaults the dialect gives a field vmmon reports: queue sizes are the rings' maximum. */
#define DISK_QUEUE_SIZE 128
#define NET_QUEUE_SIZE	256

/* The tap descriptors a request brought (SCM_RIGHTS), handed to NICs in order: each takes as
 * many as its `fds` array has items (vm.create), or, with `all` (vm.add-net), all of them when
 * it has no `fds`. Until the whole body is accepted the NICs only borrow them: the request
 * keeps them (and closes them on a refusal); on success the taken slots are set to -1. */
struct fdpool {
	int *fd;
	unsigned n, used;
	bool all;
};

/* A field's reader: the object it is in, and that object's path for messages. */
struct rd {
	struct json_value *obj;
	const char *at; /* "" at the top, else "disks[0]" */
	struct host_err *err;
	struct fdpool *pool; /* NULL: no descriptors */
};

static void path(const struct rd *r, const char *key, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", r->at, *r->at ? "." : "", key);
}

static int bad(const struct rd *r, const char *key, const char *what)
{
	char p[160];
	path(r, key, p, sizeof(p));
	return host_err_set(r->err, EINVAL, "%s: %s", p, what);
}

/* The member, or NULL when absent or null (serde's None). */
static struct json_value *get(const struct rd *r, const char *key)
{
	struct json_value *v = json_get(r->obj, key);
	return v && v->type != JSON_NULL ? v : NULL;
}

static int get_str(const struct rd *r, const char *key, const char **out)
{
	struct json_value *v = get(r, key);
	if (v && v->type != JSON_STRING)
		return bad(r, key, "expected a string");
	*out = v ? v->s : NULL;
	return 0;
}

static int get_bool(const struct rd *r, const char *key, bool *out)
{
	struct json_value *v = get(r, key);
	if (v && v->type != JSON_BOOL)
		return bad(r, key, "expected true or false");
	if (v)
		*out = v->b;
	return 0;
}

static int get_uint(const struct rd *r, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	struct json_value *v = get(r, key);
	if (!v)
		return 0;
	if (v->type != JSON_NUMBER || !v->is_u64 || v->u64 < min || v->u64 > max) {
		char what[96];
		snprintf(what, sizeof(what), "expected an integer from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(r, key, what);
	}
	*out = v->u64;
	return 0;
}

/* A field vmmon honours at one value only: absent, null, or that value. */
static int only_bool(const struct rd *r, const char *key, bool want)
{
	bool b = want;
	int ret = get_bool(r, key, &b);
	if (!ret && b != want)
		ret = bad(r, key, want ? "vmmon supports only true" : "vmmon supports only false");
	return ret;
}

static int only_str(const struct rd *r, const char *key, const char *want)
{
	const char *s = NULL;
	int ret = get_str(r, key, &s);
	if (!ret && s && strcmp(s, want)) {
		char what[96];
		snprintf(what, sizeof(what), "vmmon supports only \"%s\"", want);
		ret = bad(r, key, what);
	}
	return ret;
}

static int only_uint(const struct rd *r, const char *key, uint64_t want)
{
	uint64_t v = want;
	return get_uint(r, key, want, want, &v);
}

/* An array field vmmon has nothing for: absent, null or empty. */
static int only_empty(const struct rd *r, const char *key)
{
	struct json_value *v = get(r, key);
	if (v && (v->type != JSON_ARRAY || v->n))
		return bad(r, key, "not supported by vmmon");
	return 0;
}

/* Keeps a copy of s for as long as the configuration. */
static int own(struct vmm_vmconfig *vc, const char *s, const char **out, struct host_err *err)
{
	if (!s) {
		*out = NULL;
		return 0;
	}
	if (vc->nr_strings == VMM_VMCONFIG_MAX_STRINGS)
		return host_err_set(err, E2BIG, "too many paths in one configuration");
	char *c = strdup(s);
	if (!c)
		return host_err_set(err, ENOMEM, "out of memory");
	vc->strings[vc->nr_strings++] = c;
	*out = c;
	return 0;
}

static int refuse_unused(struct json_value *v, const char *at, struct host_err *err)
{
	char p[160], full[200];
	if (!json_unused(v, p, sizeof(p)))
		return 0;
	snprintf(full, sizeof(full), "%s%s%s", at, *at && p[0] != '[' ? "." : "", p);
	return host_err_set(err, EINVAL, "%s: unknown field, or one vmmon does not support", full);
}

static int id_taken(const struct vmm_vmconfig *vc, const char *id)
{
	for (unsigned i = 0; i < vc->cfg.nr_disks; i++)
		if (vc->disk_id[i] && !strcmp(vc->disk_id[i], id))
			return -EEXIST;
	for (unsigned i = 0; i < vc->cfg.nr_nets; i++)
		if (vc->net_id[i] && !strcmp(vc->net_id[i], id))
			return -EEXIST;
	if (vc->rng_id && !strcmp(vc->rng_id, id))
		return -EEXIST;
	return 0;
}

/* The id given, or the dialect's "_disk0" form; refused (409) when another device has it. */
static int take_id(struct vmm_vmconfig *vc, const struct rd *r, const char *prefix, unsigned index,
		   char **out)
{
	const char *given;
	int ret = get_str(r, "id", &given);
	if (ret)
		return ret;
	char gen[32];
	if (!given) {
		for (unsigned n = index;; n++) {
			snprintf(gen, sizeof(gen), "_%s%u", prefix, n);
			if (!id_taken(vc, gen))
				break;
		}
		given = gen;
	} else if (!*given) {
		return bad(r, "id", "must not be empty");
	} else if (id_taken(vc, given)) {
		return host_err_set(r->err, EEXIST, "%s.id: a device with id \"%s\" exists", r->at,
				    given);
	}
	*out = strdup(given);
	return *out ? 0 : host_err_set(r->err, ENOMEM, "out of memory");
}

/* What every device schema has and vmmon has no use for, at its no-op value. */
static int device_noops(const struct rd *r)
{
	int ret = only_bool(r, "iommu", false);
	if (!ret)
		ret = only_uint(r, "pci_segment", 0);
	if (!ret && get(r, "pci_device_id"))
		ret = bad(r, "pci_device_id", "not supported by vmmon (slots are assigned)");
	return ret;
}

/* Disks and NICs have a rate limiter in the dialect; vmmon has none. */
static int io_device_noops(const struct rd *r)
{
	int ret = device_noops(r);
	if (!ret && get(r, "rate_limiter_config"))
		ret = bad(r, "rate_limiter_config", "not supported by vmmon");
	return ret;
}

static int disk(struct vmm_vmconfig *vc, const struct rd *r)
{
	struct vmm_config *c = &vc->cfg;
	if (r->obj->type != JSON_OBJECT)
		return host_err_set(r->err, EINVAL, "%s: expected an object", r->at);
	if (c->nr_disks == VMM_MAX_DISKS)
		return host_err_set(r->err, E2BIG, "%s: at most %d disks", r->at, VMM_MAX_DISKS);
	struct vmm_disk_config *d = &c->disks[c->nr_disks];
	*d = (struct vmm_disk_config){.blk.queues = 1, .opt.mask = VMM_ATA_OPT_ALL};
	const char *p = NULL, *sock = NULL, *serial = NULL;
	bool vu = false;
	uint64_t queues = 1;
	int ret = get_str(r, "path", &p);
	if (!ret)
		ret = get_bool(r, "readonly", &d->blk.readonly);
	if (!ret)
		ret = get_bool(r, "direct", &d->blk.direct);
	if (!ret)
		ret = get_uint(r, "num_queues", 1, HOST_BLK_MAX_QUEUES, &queues);
	if (!ret)
		ret = get_bool(r, "vhost_user", &vu);
	if (!ret)
		ret = get_str(r, "vhost_socket", &sock);
	if (!ret)
		ret = get_str(r, "serial", &serial);
	if (!ret && serial && strlen(serial) > HOST_BLK_SERIAL_MAX)
		ret = bad(r, "serial", "longer than the 20 bytes virtio-blk has for it");
	if (!ret)
		ret = io_device_noops(r);
	if (!ret)
		ret = only_uint(r, "queue_size", DISK_QUEUE_SIZE);
	if (!ret)
		ret = only_empty(r, "queue_affinity");
	if (!ret)
		ret = only_bool(r, "backing_files", false);
	if (!ret)
		ret = only_bool(r, "sparse", true);
	if (!ret && get(r, "rate_limit_group"))
		ret = bad(r, "rate_limit_group", "not supported by vmmon");
	if (!ret)
		ret = only_str(r, "image_type", vu ? "Unknown" : "Raw");
	if (!ret)
		ret = only_str(r, "lock_granularity", "ByteRange");
	if (ret)
		return ret;
	if (vu && (!sock || p))
		return bad(r, "vhost_socket", "vhost_user takes vhost_socket and no path");
	if (!vu && (sock || !p))
		return bad(r, "path", "give path (or vhost_user with vhost_socket)");
	if (vu && (d->blk.readonly || d->blk.direct || queues > 1 || serial))
		return bad(r, "vhost_user",
			   "readonly, direct, num_queues and serial are the back-end's");
	d->blk.queues = (unsigned)queues;
	if (serial)
		memcpy(d->blk.serial, serial, strlen(serial) + 1);
	if (p) {
		d->owned = strdup(p);
		if (!d->owned)
			return host_err_set(r->err, ENOMEM, "out of memory");
		d->blk.path = d->owned;
	}
	ret = own(vc, sock, &d->vhost_user, r->err);
	if (!ret)
		ret = take_id(vc, r, "disk", c->nr_disks, &vc->disk_id[c->nr_disks]);
	if (ret) {
		free(d->owned);
		d->owned = NULL;
		return ret;
	}
	c->nr_disks++;
	return 0;
}

static int copy_buf(const struct rd *r, const char *key, const char *s, char *buf, size_t size)
{
	if (strlen(s) >= size)
		return bad(r, key, "too long");
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

/* NetConfig's fds, as Cloud Hypervisor's NetConfig has it (a list of int32; its document leaves
 * it out): descriptor numbers cannot travel in JSON, so only the count is read, and the
 * descriptors come by SCM_RIGHTS. */
static int fds_count(const struct rd *r, const struct json_value *v, unsigned *out)
{
	*out = 0;
	if (!v)
		return 0;
	if (v->type != JSON_ARRAY || !v->n || v->n > HOST_NET_MAX_PAIRS)
		return bad(r, "fds", "expected an array of 1 to 8 integers, one a queue pair");
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i].type != JSON_NUMBER || !v->items[i].is_i64)
			return bad(r, "fds",
				   "expected integers (placeholders: the descriptors "
				   "themselves come by SCM_RIGHTS)");
	*out = (unsigned)v->n;
	return 0;
}

static int net_fields(const struct rd *r, struct vmm_net_config *n, bool *vu, uint64_t *queues,
		      unsigned *nfds)
{
	const char *tap = NULL, *mac = NULL, *sock = NULL;
	int ret = get_str(r, "tap", &tap);
	if (!ret)
		ret = get_str(r, "mac", &mac);
	static const struct host_opt_key mac_key = {"mac", host_opt_mac, 0, 0, 0, NULL};
	if (!ret && mac)
		ret = host_opt_mac(&mac_key, r->at, mac, &n->tap.mac, r->err);
	if (!ret)
		ret = get_uint(r, "num_queues", 2, 2 * HOST_NET_MAX_PAIRS, queues);
	if (!ret && *queues % 2)
		ret = bad(r, "num_queues", "must be even (one receive and one transmit per pair)");
	if (!ret)
		ret = get_bool(r, "vhost_user", vu);
	if (!ret)
		ret = get_str(r, "vhost_socket", &sock);
	if (!ret)
		ret = only_str(r, "vhost_mode", "Client");
	if (!ret)
		ret = io_device_noops(r);
	if (!ret)
		ret = only_uint(r, "queue_size", NET_QUEUE_SIZE);
	/* The host end of the tap is the host's to set up: vmmon opens it as it is. */
	if (!ret)
		ret = only_str(r, "ip", "192.168.249.1");
	if (!ret)
		ret = only_str(r, "mask", "255.255.255.0");
	for (const char *const *k = (const char *const[]){"host_mac", "mtu", NULL}; !ret && *k; k++)
		if (get(r, *k))
			ret = bad(r, *k, "not supported by vmmon");
	/* vmmon's taps carry no offloads (the 12-byte header, all flags clear). */
	for (const char *const *k =
		     (const char *const[]){"offload_tso", "offload_ufo", "offload_csum", NULL};
	     !ret && *k; k++)
		ret = only_bool(r, *k, false);
	if (!ret)
		ret = fds_count(r, get(r, "fds"), nfds);
	if (ret)
		return ret;
	/* vm.add-net without fds: the NIC takes every descriptor the request brought. */
	const struct fdpool *p = r->pool;
	bool passed = *nfds || (p && p->all && p->n);
	if (*vu && (!sock || tap || passed))
		return bad(r, "vhost_socket",
			   "vhost_user takes vhost_socket and no tap or tap descriptors");
	if (!*vu && tap && passed)
		return bad(r, "fds", "give tap or tap descriptors (by SCM_RIGHTS), not both");
	if (!*vu && (sock || (!tap && !passed)))
		return bad(r, "tap",
			   "give tap, tap descriptors by SCM_RIGHTS, or vhost_user with "
			   "vhost_socket");
	if (*vu && *queues > 2)
		return bad(r, "num_queues", "a vhost-user NIC has one queue pair here");
	if (tap)
		ret = copy_buf(r, "tap", tap, n->tap.name, sizeof(n->tap.name));
	if (!ret && sock)
		ret = copy_buf(r, "vhost_socket", sock, n->vhost_user, sizeof(n->vhost_user));
	return ret;
}

/* The NIC borrows its tap queues from the pool: one a pair, each checked to be a queue of one
 * tap that vmmon's NIC can use (host_tap_check_fd). */
static int net_take_fds(const struct rd *r, struct vmm_net_config *n, unsigned nfds)
{
	struct fdpool *p = r->pool;
	unsigned avail = p ? p->n - p->used : 0;
	if (!nfds && p && p->all)
		nfds = avail;
	if (!nfds)
		return 0;
	if (nfds > avail)
		return host_err_set(r->err, EINVAL,
				    "%s.fds: names %u tap descriptor(s), %u came by SCM_RIGHTS "
				    "for it",
				    r->at, nfds, avail);
	if (nfds != n->tap.queues)
		return host_err_set(r->err, EINVAL,
				    "%s.num_queues: is %u, but %u tap descriptor(s) came, one a "
				    "queue pair: num_queues must be %u",
				    r->at, 2 * n->tap.queues, nfds, 2 * nfds);
	char name[sizeof(n->tap.name)], first[sizeof(n->tap.name)], what[48];
	for (unsigned i = 0; i < nfds; i++) {
		snprintf(what, sizeof(what), "%s.fds[%u]", r->at, i);
		int ret =
			host_tap_check_fd(p->fd[p->used + i], nfds, i ? name : first, what, r->err);
		if (!ret && i && strcmp(name, first))
			ret = host_err_set(r->err, EINVAL, "%s: a queue of tap %s, fds[0] is of %s",
					   what, name, first);
		if (ret)
			return ret;
	}
	memcpy(n->tap.fd, p->fd + p->used, nfds * sizeof(int));
	n->tap.nfds = nfds;
	p->used += nfds;
	return 0;
}

static int net(struct vmm_vmconfig *vc, const struct rd *r)
{
	struct vmm_config *c = &vc->cfg;
	if (r->obj->type != JSON_OBJECT)
		return host_err_set(r->err, EINVAL, "%s: expected an object", r->at);
	if (c->nr_nets == VMM_MAX_NETS)
		return host_err_set(r->err, E2BIG, "%s: at most %d NICs", r->at, VMM_MAX_NETS);
	struct vmm_net_config *n = &c->nets[c->nr_nets];
	*n = (struct vmm_net_config){.opt.mask = VMM_PCNET_OPT_ALL,
				     .combine_frames = VMM_PCNET_COMBINE_FRAMES,
				     .combine_us = VMM_PCNET_COMBINE_US,
				     .coalesce_us = VMM_PCNET_COALESCE_US};
	bool vu = false;
	uint64_t queues = 2;
	unsigned nfds = 0;
	int ret = net_fields(r, n, &vu, &queues, &nfds);
	if (ret)
		return ret;
	n->tap.queues = (unsigned)(queues / 2);
	ret = net_take_fds(r, n, nfds);
	if (!ret)
		ret = take_id(vc, r, "net", c->nr_nets, &vc->net_id[c->nr_nets]);
	if (!ret)
		c->nr_nets++;
	return ret;
}

static int payload(struct vmm_vmconfig *vc, const struct rd *top)
{
	struct vmm_config *c = &vc->cfg;
	struct rd r = {.obj = get(top, "payload"), .at = "payload", .err = top->err};
	if (!r.obj || r.obj->type != JSON_OBJECT)
		return host_err_set(top->err, EINVAL, "payload: required, an object");
	const char *k = NULL, *fw = NULL, *ird = NULL, *cmd = NULL;
	int ret = get_str(&r, "kernel", &k);
	if (!ret)
		ret = get_str(&r, "firmware", &fw);
	if (!ret)
		ret = get_str(&r, "initramfs", &ird);
	if (!ret)
		ret = get_str(&r, "cmdline", &cmd);
	if (!ret && get(&r, "igvm"))
		ret = bad(&r, "igvm", "not supported by vmmon");
	if (!ret && get(&r, "host_data"))
		ret = bad(&r, "host_data", "not supported by vmmon");
	if (ret)
		return ret;
	if (!k == !fw)
		return bad(&r, "kernel", "give kernel or firmware (one of them)");
	if (fw && (ird || cmd))
		return bad(&r, "firmware",
			   "initramfs and cmdline go with kernel; a firmware boots a disk");
	ret = own(vc, k, &c->kernel, top->err);
	if (!ret)
		ret = own(vc, fw, &c->firmware, top->err);
	if (!ret)
		ret = own(vc, ird, &c->initramfs, top->err);
	if (!ret && cmd)
		ret = own(vc, cmd, &c->cmdline, top->err);
	c->cmdline_given = cmd != NULL;
	return ret;
}

static int cpus(struct vmm_vmconfig *vc, const struct rd *top)
{
	struct rd r = {.obj = get(top, "cpus"), .at = "cpus", .err = top->err};
	if (!r.obj)
		return 0;
	if (r.obj->type != JSON_OBJECT)
		return bad(top, "cpus", "expected an object");
	uint64_t boot = vc->cfg.cpus, max = 0;
	int ret = get_uint(&r, "boot_vcpus", 1, VMM_MP_MAX_CPUS, &boot);
	if (!ret)
		ret = get_uint(&r, "max_vcpus", 1, VMM_MP_MAX_CPUS, &max);
	if (!ret && max && max != boot)
		ret = bad(&r, "max_vcpus", "CPU hot plug is not supported: give boot_vcpus");
	if (!ret)
		ret = only_bool(&r, "kvm_hyperv", false);
	if (!ret)
		ret = only_bool(&r, "nested", true);
	if (!ret)
		ret = only_empty(&r, "affinity");
	for (const char *const *k =
		     (const char *const[]){"topology", "max_phys_bits", "features", NULL};
	     !ret && *k; k++)
		if (get(&r, *k))
			ret = bad(&r, *k, "not supported by vmmon");
	if (!ret)
		ret = only_str(&r, "core_scheduling", "Off");
	vc->cfg.cpus = (unsigned)boot;
	return ret;
}

static int memory(struct vmm_vmconfig *vc, const struct rd *top)
{
	struct rd r = {.obj = get(top, "memory"), .at = "memory", .err = top->err};
	if (!r.obj)
		return 0;
	if (r.obj->type != JSON_OBJECT)
		return bad(top, "memory", "expected an object");
	uint64_t size = vc->cfg.memory;
	int ret = get_uint(&r, "size", LAYOUT_MIN_RAM, LAYOUT_MAX_RAM, &size);
	if (!ret && size % 4096)
		ret = bad(&r, "size", "must be a multiple of 4096");
	/* Guest RAM is a shared memfd: shared=true is what it is already. */
	if (!ret)
		ret = only_bool(&r, "shared", true);
	for (const char *const *k =
		     (const char *const[]){"mergeable", "hugepages", "prefault", "reserve", NULL};
	     !ret && *k; k++)
		ret = only_bool(&r, *k, false);
	if (!ret)
		ret = only_bool(&r, "thp", true);
	if (!ret)
		ret = only_uint(&r, "hotplug_size", 0);
	if (!ret)
		ret = only_uint(&r, "hotplugged_size", 0);
	if (!ret)
		ret = only_str(&r, "hotplug_method", "Acpi");
	if (!ret && get(&r, "hugepage_size"))
		ret = bad(&r, "hugepage_size", "not supported by vmmon");
	if (!ret)
		ret = only_empty(&r, "zones");
	vc->cfg.memory = size;
	return ret;
}

static int console_mode(const struct rd *r, const char *key, enum vmm_console_mode *mode,
			const char **file)
{
	struct rd c = {.obj = get(r, key), .err = r->err};
	char at[32];
	snprintf(at, sizeof(at), "%s", key);
	c.at = at;
	if (!c.obj)
		return 0;
	if (c.obj->type != JSON_OBJECT)
		return bad(r, key, "expected an object");
	const char *m = NULL;
	int ret = get_str(&c, "mode", &m);
	if (!ret)
		ret = get_str(&c, "file", file);
	if (!ret && !strcmp(key, "console"))
		ret = device_noops(&c);
	if (!ret && get(&c, "socket"))
		ret = bad(&c, "socket", "not supported yet");
	if (ret)
		return ret;
	static const char *const names[] = {"Off", "Null", "File", "Tty"};
	for (unsigned i = 0; m && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(m, names[i]))
			continue;
		*mode = (enum vmm_console_mode)i;
		if ((*mode == VMM_CON_FILE) != (*file != NULL))
			return bad(&c, "file", "goes with mode File, and only with it");
		if (*mode == VMM_CON_FILE && !strcmp(key, "console"))
			return bad(&c, "mode",
				   "File is serial's here: the virtio console is a Tty");
		return 0;
	}
	return bad(&c, "mode", "vmmon supports Off, Null, File (serial) and Tty");
}

static int devices(struct vmm_vmconfig *vc, const struct rd *top)
{
	static const char *const lists[] = {"disks", "net"};
	for (unsigned l = 0; l < 2; l++) {
		struct json_value *a = get(top, lists[l]);
		if (!a)
			continue;
		if (a->type != JSON_ARRAY)
			return bad(top, lists[l], "expected an array");
		for (size_t i = 0; i < a->n; i++) {
			char at[32];
			snprintf(at, sizeof(at), "%s[%zu]", lists[l], i);
			struct rd r = {
				.obj = &a->items[i], .at = at, .err = top->err, .pool = top->pool};
			int ret = l ? net(vc, &r) : disk(vc, &r);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int rng(struct vmm_vmconfig *vc, const struct rd *top)
{
	struct rd r = {.obj = get(top, "rng"), .at = "rng", .err = top->err};
	if (!r.obj)
		return 0;
	if (r.obj->type != JSON_OBJECT)
		return bad(top, "rng", "expected an object");
	const char *src = NULL;
	int ret = get_str(&r, "src", &src);
	if (!ret && (!src || strcmp(src, "/dev/urandom")))
		ret = bad(&r, "src", "vmmon's entropy device reads /dev/urandom only");
	if (!ret)
		ret = device_noops(&r);
	if (!ret)
		ret = take_id(vc, &r, "rng", 0, &vc->rng_id);
	vc->cfg.rng = !ret;
	return ret;
}

/* Fields of VmConfig with no device behind them, at their no-op values. */
static int top_noops(const struct rd *top)
{
	int ret = 0;
	for (const char *const *k =
		     (const char *const[]){"iommu", "watchdog", "pvpanic", "landlock_enable", NULL};
	     !ret && *k; k++)
		ret = only_bool(top, *k, false);
	for (const char *const *k =
		     (const char *const[]){"fs", "pmem", "devices", "user_devices", "vdpa", "numa",
					   "rate_limit_groups", "generic_vhost_user",
					   "pci_segments", "landlock_rules", NULL};
	     !ret && *k; k++)
		ret = only_empty(top, *k);
	return ret;
}

static void config_defaults(struct vmm_vmconfig *vc)
{
	memset(vc, 0, sizeof(*vc));
	vc->cfg = (struct vmm_config){.cmdline = "",
				      .cpus = VMM_DEFAULT_CPUS,
				      .memory = VMM_DEFAULT_MEMORY,
				      .serial = VMM_SERIAL_OFF,
				      .debugcon = VMM_SERIAL_OFF};
	/* The dialect's defaults: no serial output, the console on the terminal. */
	vc->serial = VMM_CON_NULL;
	vc->console = VMM_CON_TTY;
}

static int parse_top(struct vmm_vmconfig *vc, struct rd *top)
{
	const char *sfile = NULL, *cfile = NULL;
	int ret = payload(vc, top);
	if (!ret)
		ret = cpus(vc, top);
	if (!ret)
		ret = memory(vc, top);
	if (!ret)
		ret = devices(vc, top);
	if (!ret)
		ret = rng(vc, top);
	if (!ret)
		ret = console_mode(top, "serial", &vc->serial, &sfile);
	if (!ret)
		ret = console_mode(top, "console", &vc->console, &cfile);
	if (!ret)
		ret = top_noops(top);
	if (!ret)
		ret = own(vc, sfile, &vc->cfg.serial_path, top->err);
	if (ret)
		return ret;
	vc->cfg.serial = vc->serial == VMM_CON_FILE  ? VMM_SERIAL_FILE
			 : vc->serial == VMM_CON_TTY ? VMM_SERIAL_STDIO
						     : VMM_SERIAL_OFF;
	vc->cfg.virtio_console = vc->console == VMM_CON_TTY;
	return refuse_unused(top->obj, "", top->err);
}

static int parse_object(const char *body, size_t len, struct json_value **out, struct host_err *err)
{
	int ret = json_parse(body, len, out, err);
	if (!ret && (*out)->type != JSON_OBJECT) {
		ret = host_err_set(err, EINVAL, "the body is %s, not an object",
				   json_type_name((*out)->type));
		json_free(*out);
		*out = NULL;
	}
	return ret;
}

/* After the body was read: every descriptor taken, or a 400. */
static int pool_check(const struct fdpool *p, const char *names, struct host_err *err)
{
	if (p->used == p->n)
		return 0;
	return host_err_set(err, EINVAL, "%u tap descriptor(s) came by SCM_RIGHTS, %s %u", p->n,
			    names, p->used);
}

/* The body accepted: the NICs own what they borrowed, the request no longer. */
static void pool_commit(struct fdpool *p)
{
	for (unsigned i = 0; i < p->used; i++)
		p->fd[i] = -1;
}

/* Refused: the NICs let go of what they borrowed (the request closes it). */
static void nets_disown(struct vmm_vmconfig *vc)
{
	for (unsigned i = 0; i < VMM_MAX_NETS; i++)
		vc->cfg.nets[i].tap.nfds = 0;
}

int vmm_vmconfig_parse(const char *body, size_t len, int *fds, unsigned nfds,
		       struct vmm_vmconfig *vc, struct host_err *err)
{
	config_defaults(vc);
	struct json_value *v;
	int ret = parse_object(body, len, &v, err);
	if (ret)
		return ret;
	struct fdpool pool = {.fd = fds, .n = nfds};
	struct rd top = {.obj = v, .at = "", .err = err, .pool = &pool};
	ret = parse_top(vc, &top);
	if (!ret)
		ret = pool_check(&pool, "the net[].fds name", err);
	json_free(v);
	if (ret) {
		nets_disown(vc);
		vmm_vmconfig_free(vc);
		config_defaults(vc);
		return ret;
	}
	pool_commit(&pool);
	return 0;
}

static int add_one(struct vmm_vmconfig *vc, const char *body, size_t len, bool is_net,
		   struct fdpool *pool, struct host_err *err)
{
	struct json_value *v;
	int ret = parse_object(body, len, &v, err);
	if (ret)
		return ret;
	struct rd r = {
		.obj = v, .at = is_net ? "NetConfig" : "DiskConfig", .err = err, .pool = pool};
	unsigned before = is_net ? vc->cfg.nr_nets : vc->cfg.nr_disks;
	ret = is_net ? net(vc, &r) : disk(vc, &r);
	if (!ret)
		ret = refuse_unused(v, r.at, err);
	if (!ret && pool)
		ret = pool_check(pool, "the NIC takes", err);
	if (!ret && pool)
		pool_commit(pool);
	/* Refused: a NIC that borrowed descriptors is past nr_nets (never added, or taken back
	 * out below), so nothing closes them but the request. */
	if (ret && (is_net ? vc->cfg.nr_nets : vc->cfg.nr_disks) > before) {
		/* Parsed, then refused for a field left over: take it back out. */
		if (is_net) {
			vc->cfg.nr_nets--;
			free(vc->net_id[before]);
			vc->net_id[before] = NULL;
		} else {
			vc->cfg.nr_disks--;
			free(vc->disk_id[before]);
			vc->disk_id[before] = NULL;
			free(vc->cfg.disks[before].owned);
			vc->cfg.disks[before].owned = NULL;
		}
	}
	json_free(v);
	return ret;
}

int vmm_vmconfig_add_disk(struct vmm_vmconfig *vc, const char *body, size_t len,
			  struct host_err *err)
{
	return add_one(vc, body, len, false, NULL, err);
}

int vmm_vmconfig_add_net(struct vmm_vmconfig *vc, const char *body, size_t len, int *fds,
			 unsigned nfds, struct host_err *err)
{
	struct fdpool pool = {.fd = fds, .n = nfds, .all = true};
	return add_one(vc, body, len, true, &pool, err);
}

void vmm_vmconfig_adopt(struct vmm_vmconfig *vc, struct vmm_config *cfg)
{
	memset(vc, 0, sizeof(*vc));
	vc->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	char id[32];
	for (unsigned i = 0; i < vc->cfg.nr_disks; i++) {
		snprintf(id, sizeof(id), "_disk%u", i);
		vc->disk_id[i] = strdup(id); /* NULL on a failure: reported as null */
	}
	for (unsigned i = 0; i < vc->cfg.nr_nets; i++) {
		snprintf(id, sizeof(id), "_net%u", i);
		vc->net_id[i] = strdup(id);
	}
	if (vc->cfg.rng)
		vc->rng_id = strdup("_rng0");
	vc->serial = vc->cfg.serial == VMM_SERIAL_FILE	  ? VMM_CON_FILE
		     : vc->cfg.serial == VMM_SERIAL_STDIO ? VMM_CON_TTY
							  : VMM_CON_OFF;
	vc->console = vc->cfg.virtio_console ? VMM_CON_TTY : VMM_CON_OFF;
}

void vmm_vmconfig_free(struct vmm_vmconfig *vc)
{
	vmm_config_free(&vc->cfg);
	for (unsigned i = 0; i < VMM_MAX_DISKS; i++)
		free(vc->disk_id[i]);
	for (unsigned i = 0; i < VMM_MAX_NETS; i++)
		free(vc->net_id[i]);
	free(vc->rng_id);
	for (unsigned i = 0; i < vc->nr_strings; i++)
		free(vc->strings[i]);
	memset(vc, 0, sizeof(*vc));
}
