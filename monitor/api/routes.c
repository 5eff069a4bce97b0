/* SPDX-License-Identifier: MIT */
/*
 * The endpoints under /api/v1 (all but vmm.ping, which the server answers itself), as Cloud
 * Hypervisor answers them: a wrong method is 400; no VM is 404; a request the VM's state
 * does not allow (boot when running, pause when paused, a second vm.create) is 500, as Cloud
 * Hypervisor maps every VM error but "not created" (its api_error_status_code); a device id
 * in use is 409; a bad body is 400 naming the field.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "jsonw.h"
#include "virtio/blk.h"
#include "virtio/net.h"

enum { GET, PUT };

struct route {
	const char *name;
	int method;
	void (*fn)(struct vmm_ctl *c, const struct vmm_api_request *req,
		   struct vmm_api_response *resp);
};

static void no_content(struct vmm_api_response *r)
{
	r->status = 204;
}

static void fail(struct vmm_api_response *r, int status, const char *cause,
		 const struct host_err *err)
{
	vmm_api_error(r, status, cause, err && err->msg[0] ? err->msg : NULL);
}

/* 404 without a VM; 500 when the state is not one of those allowed (a mask of states). */
static bool check_state(struct vmm_ctl *c, unsigned allowed, const char *what,
			struct vmm_api_response *r)
{
	enum vmm_vm_state s = vmm_ctl_state(c);
	if (s == VMM_STATE_NONE) {
		vmm_api_error(r, 404, "the VM is not created", NULL);
		return false;
	}
	if (allowed & (1u << s))
		return true;
	struct host_err e = {{0}};
	host_err_set(&e, EINVAL, "the VM is %s", vmm_ctl_state_name(s));
	fail(r, 500, what, &e);
	return false;
}

#define ST(s) (1u << VMM_STATE_##s)

static void vm_create(struct vmm_ctl *c, const struct vmm_api_request *req,
		      struct vmm_api_response *r)
{
	struct host_err err = {{0}};
	if (vmm_ctl_state(c) != VMM_STATE_NONE) {
		vmm_api_error(r, 500, "cannot create the VM", "the VM is already created");
		return;
	}
	/* net[].fds name how many of the request's descriptors each NIC takes. */
	int ret = vmm_vmconfig_parse(req->body, req->body_len, req->fds, req->nfds, &c->vc, &err);
	if (ret) {
		fail(r, ret == -EEXIST ? 409 : 400, "invalid VmConfig", &err);
		return;
	}
	c->state = VMM_STATE_CREATED;
	no_content(r);
}

static void vm_boot(struct vmm_ctl *c, const struct vmm_api_request *req,
		    struct vmm_api_response *r)
{
	(void)req;
	struct host_err err = {{0}};
	if (!check_state(c, ST(CREATED) | ST(SHUTDOWN), "cannot boot the VM", r))
		return;
	if (vmm_ctl_boot(c, &err))
		fail(r, 500, "cannot boot the VM", &err);
	else
		no_content(r);
}

static void vm_shutdown(struct vmm_ctl *c, const struct vmm_api_request *req,
			struct vmm_api_response *r)
{
	(void)req;
	if (!check_state(c, ST(RUNNING) | ST(PAUSED), "cannot shut the VM down", r))
		return;
	vmm_ctl_shutdown(c);
	no_content(r);
}

static void vm_reboot(struct vmm_ctl *c, const struct vmm_api_request *req,
		      struct vmm_api_response *r)
{
	(void)req;
	struct host_err err = {{0}};
	if (!check_state(c, ST(RUNNING) | ST(PAUSED), "cannot reboot the VM", r))
		return;
	if (vmm_ctl_reboot(c, &err))
		fail(r, 500, "cannot reboot the VM", &err);
	else
		no_content(r);
}

static void vm_delete(struct vmm_ctl *c, const struct vmm_api_request *req,
		      struct vmm_api_response *r)
{
	(void)req;
	vmm_ctl_delete(c); /* no VM: nothing to do, as in Cloud Hypervisor */
	no_content(r);
}

static void vm_pause(struct vmm_ctl *c, const struct vmm_api_request *req,
		     struct vmm_api_response *r)
{
	(void)req;
	struct host_err err = {{0}};
	if (!check_state(c, ST(RUNNING), "cannot pause the VM", r))
		return;
	if (vmm_ctl_pause(c, &err))
		fail(r, 500, "cannot pause the VM", &err);
	else
		no_content(r);
}

static void vm_resume(struct vmm_ctl *c, const struct vmm_api_request *req,
		      struct vmm_api_response *r)
{
	(void)req;
	struct host_err err = {{0}};
	if (!check_state(c, ST(PAUSED), "cannot resume the VM", r))
		return;
	if (vmm_ctl_resume(c, &err))
		fail(r, 500, "cannot resume the VM", &err);
	else
		no_content(r);
}

static void vm_info(struct vmm_ctl *c, const struct vmm_api_request *req,
		    struct vmm_api_response *r)
{
	(void)req;
	if (!check_state(c, ~0u, "", r))
		return;
	struct jsonw w = {0};
	jsonw_raw(&w, "{\"config\":");
	vmm_vmconfig_write(&w, &c->vc);
	jsonw_printf(&w, ",\"state\":\"%s\",\"memory_actual_size\":%" PRIu64 "}",
		     vmm_ctl_state_name(c->state), c->vc.cfg.memory);
	r->body = jsonw_take(&w);
	r->status = r->body ? 200 : 500;
}

static const char *slot_id(const struct vmm_ctl *c, const struct vmm_virtio_slot *s)
{
	const struct vmm_config *cfg = &c->vc.cfg;
	if (s->disk)
		return c->vc.disk_id[s->disk - cfg->disks];
	if (s->net)
		return c->vc.net_id[s->net - cfg->nets];
	if (!strcmp(s->vdev->ops->name, "virtio-rng"))
		return c->vc.rng_id;
	return NULL;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void device_counters(struct jsonw *w, const struct vmm_virtio_slot *s)
{
	const struct vmm_virtio_dev *d = s->vdev;
	uint64_t kicks = 0, irqs = 0;
	for (unsigned k = 0; k < d->nr_queues; k++) {
		kicks += LOAD(d->q[k].kicks);
		irqs += LOAD(d->q[k].notifies);
	}
	if (s->disk && !d->ops->external_queues) {
		const struct vblk_dev *b = s->model;
		jsonw_printf(w,
			     "\"read_bytes\":%" PRIu64 ",\"write_bytes\":%" PRIu64
			     ",\"read_ops\":%" PRIu64 ",\"write_ops\":%" PRIu64 ",",
			     LOAD(b->read_bytes), LOAD(b->write_bytes), LOAD(b->read_ops),
			     LOAD(b->write_ops));
	} else if (s->net && !d->ops->external_queues) {
		const struct vnet_dev *n = s->model;
		uint64_t rxb = 0, rxf = 0, txb = 0, txf = 0;
		for (unsigned k = 0; k + 1 < d->nr_queues; k += 2) {
			rxb += LOAD(n->vq[k].eq.bytes);
			rxf += LOAD(n->vq[k].eq.frames);
			txb += LOAD(n->vq[k + 1].eq.bytes);
			txf += LOAD(n->vq[k + 1].eq.frames);
		}
		jsonw_printf(w,
			     "\"rx_bytes\":%" PRIu64 ",\"rx_frames\":%" PRIu64
			     ",\"tx_bytes\":%" PRIu64 ",\"tx_frames\":%" PRIu64 ",",
			     rxb, rxf, txb, txf);
	}
	/* A vhost-user back-end's kicks and interrupts pass between it and KVM, unseen: left
	 * out rather than shown as zeros. */
	if (!d->ops->external_queues)
		jsonw_printf(w, "\"kicks\":%" PRIu64 ",\"interrupts\":%" PRIu64 ",", kicks, irqs);
	jsonw_printf(w, "\"exits\":%" PRIu64, LOAD(d->exits));
}

static void vm_counters(struct vmm_ctl *c, const struct vmm_api_request *req,
			struct vmm_api_response *r)
{
	(void)req;
	if (!check_state(c, ST(RUNNING) | ST(PAUSED), "no counters", r))
		return;
	const struct vmm_vm *vm = c->vm;
	struct jsonw w = {0};
	jsonw_raw(&w, "{");
	bool first = true;
	for (unsigned i = 0; i < vm->devs.nr; i++) {
		const char *id = slot_id(c, &vm->devs.slot[i]);
		if (!id)
			continue;
		jsonw_raw(&w, first ? "" : ",");
		first = false;
		jsonw_str(&w, id);
		jsonw_raw(&w, ":{");
		device_counters(&w, &vm->devs.slot[i]);
		jsonw_raw(&w, "}");
	}
	jsonw_raw(&w, "}");
	r->body = jsonw_take(&w);
	r->status = r->body ? 200 : 500;
}

static void add_device(struct vmm_ctl *c, const struct vmm_api_request *req,
		       struct vmm_api_response *r, bool net)
{
	struct host_err err = {{0}};
	const char *what = net ? "cannot add the NIC" : "cannot add the disk";
	if (!check_state(c, ~0u, what, r))
		return;
	if (c->state == VMM_STATE_RUNNING || c->state == VMM_STATE_PAUSED) {
		vmm_api_error(r, 500, what, "hot plug is not supported yet");
		return;
	}
	if (!net && req->nfds) {
		vmm_api_error(r, 400, what, "vm.add-disk takes no descriptors");
		return;
	}
	/* The NIC takes every descriptor that came with the request (its tap queues). */
	int ret = net ? vmm_vmconfig_add_net(&c->vc, req->body, req->body_len, req->fds, req->nfds,
					     &err)
		      : vmm_vmconfig_add_disk(&c->vc, req->body, req->body_len, &err);
	if (ret)
		fail(r, ret == -EEXIST ? 409 : 400, what, &err);
	else
		no_content(r);
}

static void vm_add_disk(struct vmm_ctl *c, const struct vmm_api_request *req,
			struct vmm_api_response *r)
{
	add_device(c, req, r, false);
}

static void vm_add_net(struct vmm_ctl *c, const struct vmm_api_request *req,
		       struct vmm_api_response *r)
{
	add_device(c, req, r, true);
}

static void vm_power_button(struct vmm_ctl *c, const struct vmm_api_request *req,
			    struct vmm_api_response *r)
{
	(void)req;
	if (check_state(c, ST(RUNNING), "cannot press the power button", r))
		vmm_api_error(r, 500, "cannot press the power button",
			      "vmmon's machine has no ACPI, hence no power button");
}

static void quit(void *arg)
{
	struct vmm_ctl *c = arg;
	uint64_t one = 1;
	if (write(c->quit_fd, &one, sizeof(one)) < 0) {
		/* a fresh eventfd cannot be full */
	}
}

/* The reply goes out first; main then stops the server, destroys the VM and exits. */
static void vmm_shutdown(struct vmm_ctl *c, const struct vmm_api_request *req,
			 struct vmm_api_response *r)
{
	(void)req;
	no_content(r);
	r->after_reply = quit;
	r->after_arg = c;
}

static void not_yet(struct vmm_ctl *c, const struct vmm_api_request *req,
		    struct vmm_api_response *r)
{
	(void)c;
	char cause[64];
	snprintf(cause, sizeof(cause), "%s is not supported yet", req->endpoint);
	vmm_api_error(r, 500, cause, NULL);
}

static const struct route routes[] = {
	{"vm.create", PUT, vm_create},
	{"vm.boot", PUT, vm_boot},
	{"vm.shutdown", PUT, vm_shutdown},
	{"vm.reboot", PUT, vm_reboot},
	{"vm.delete", PUT, vm_delete},
	{"vm.pause", PUT, vm_pause},
	{"vm.resume", PUT, vm_resume},
	{"vm.power-button", PUT, vm_power_button},
	{"vm.info", GET, vm_info},
	{"vm.counters", GET, vm_counters},
	{"vm.add-disk", PUT, vm_add_disk},
	{"vm.add-net", PUT, vm_add_net},
	{"vmm.shutdown", PUT, vmm_shutdown},
	{"vm.resize", PUT, not_yet},
	{"vm.resize-disk", PUT, not_yet},
	{"vm.resize-zone", PUT, not_yet},
	{"vm.snapshot", PUT, not_yet},
	{"vm.restore", PUT, not_yet},
	{"vm.coredump", PUT, not_yet},
	{"vm.nmi", PUT, not_yet},
	{"vm.send-migration", PUT, not_yet},
	{"vm.receive-migration", PUT, not_yet},
	{"vm.add-device", PUT, not_yet},
	{"vm.add-user-device", PUT, not_yet},
	{"vm.add-fs", PUT, not_yet},
	{"vm.add-pmem", PUT, not_yet},
	{"vm.add-vsock", PUT, not_yet},
	{"vm.add-vdpa", PUT, not_yet},
	{"vm.add-generic-vhost-user", PUT, not_yet},
	{"vm.remove-device", PUT, not_yet},
	{"vm.balloon-stats", GET, not_yet},
};

/* Endpoints that take no body: Cloud Hypervisor refuses one (400). */
static bool takes_body(const struct route *rt)
{
	return !strcmp(rt->name, "vm.create") || !strncmp(rt->name, "vm.add-", 7) ||
	       rt->fn == not_yet;
}

void vmm_routes_handle(void *ctx, const struct vmm_api_request *req, struct vmm_api_response *resp)
{
	struct vmm_ctl *c = ctx;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		if (strcmp(req->endpoint, rt->name))
			continue;
		const char *want = rt->method == GET ? "GET" : "PUT";
		if (strcmp(req->method, want)) {
			char cause[80];
			snprintf(cause, sizeof(cause), "%s takes %s, not %s", rt->name, want,
				 req->method);
			vmm_api_error(resp, 400, cause, NULL);
			return;
		}
		if (req->body_len && !takes_body(rt)) {
			vmm_api_error(resp, 400, "this endpoint takes no body", NULL);
			return;
		}
		rt->fn(c, req, resp);
		return;
	}
	resp->status = 0; /* unknown: the server answers 404 */
}
