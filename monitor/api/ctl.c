/* SPDX-License-Identifier: MIT */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void vmm_ctl_init(struct vmm_ctl *c, struct vmm_vm *vm, int quit_fd)
{
	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->quit_fd = quit_fd;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

const char *vmm_ctl_state_name(enum vmm_vm_state s)
{
	static const char *const names[] = {"None", "Created", "Running", "Paused", "Shutdown"};
	return names[s];
}

/* The VM thread: runs the VM, and builds it again each time it is reset (by the guest, or by
 * vm.reboot), until it ends for good. */
static void *vm_thread(void *arg)
{
	struct vmm_ctl *c = arg;
	struct vmm_vm *vm = c->vm;
	int status;
	for (;;) {
		status = vmm_vm_run(vm);
		if (status != VMM_EXIT_RESET)
			break;
		pthread_mutex_lock(&c->lock);
		bool stop = c->stop_wanted;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		vmm_event("vm", "rebooting", NULL);
		struct host_err err = {{0}};
		int ret = vmm_vm_reset(vm, &err);
		if (!ret) {
			vm->api = true;
			vmm_event("vm", "rebooted", NULL);
		}
		pthread_mutex_lock(&c->lock);
		c->reboots++;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		if (ret) {
			fprintf(stderr, "vmmon: reboot: %s\n", err.msg);
			status = VMM_EXIT_ERROR;
			break;
		}
	}
	pthread_mutex_lock(&c->lock);
	c->status = status;
	c->ended = true;
	bool own = !c->stop_wanted;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* The guest powered off (or crashed): the VM is shut down, the process stays. */
	if (own)
		vmm_event("vm", "shutdown", NULL);
	return NULL;
}

/* Joins a VM thread that returned and destroys its machine. */
static void reap(struct vmm_ctl *c)
{
	pthread_join(c->thread, NULL);
	c->thread_live = false;
	vmm_vm_destroy(c->vm);
	c->state = VMM_STATE_SHUTDOWN;
}

enum vmm_vm_state vmm_ctl_state(struct vmm_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	bool ended = c->thread_live && c->ended;
	pthread_mutex_unlock(&c->lock);
	if (ended)
		reap(c);
	return c->state;
}

int vmm_ctl_boot(struct vmm_ctl *c, struct host_err *err)
{
	vmm_event("vm", "booting", NULL);
	int ret = vmm_vm_create(c->vm, &c->vc.cfg, err);
	if (!ret)
		ret = vmm_vm_load(c->vm, err);
	if (ret) {
		vmm_vm_destroy(c->vm);
		return ret;
	}
	c->vm->api = true;
	c->ended = c->stop_wanted = false;
	c->reboots = 0;
	ret = pthread_create(&c->thread, NULL, vm_thread, c);
	if (ret) {
		vmm_vm_destroy(c->vm);
		return host_err_set(err, ret, "cannot start the VM thread: %s", strerror(ret));
	}
	c->thread_live = true;
	c->state = VMM_STATE_RUNNING;
	vmm_event("vm", "booted", NULL);
	return 0;
}

void vmm_ctl_shutdown(struct vmm_ctl *c)
{
	if (!c->thread_live)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop_wanted = true;
	pthread_mutex_unlock(&c->lock);
	vmm_vm_stop(c->vm, VMM_EXIT_OK);
	reap(c);
	vmm_event("vm", "shutdown", NULL);
}

int vmm_ctl_reboot(struct vmm_ctl *c, struct host_err *err)
{
	pthread_mutex_lock(&c->lock);
	unsigned before = c->reboots;
	pthread_mutex_unlock(&c->lock);
	vmm_vm_stop(c->vm, VMM_EXIT_RESET);
	pthread_mutex_lock(&c->lock);
	while (c->reboots == before && !c->ended)
		pthread_cond_wait(&c->cond, &c->lock);
	bool ended = c->ended;
	pthread_mutex_unlock(&c->lock);
	if (ended) {
		reap(c);
		return host_err_set(err, EIO, "the VM could not be built again");
	}
	c->state = VMM_STATE_RUNNING;
	return 0;
}

int vmm_ctl_pause(struct vmm_ctl *c, struct host_err *err)
{
	vmm_event("vm", "pausing", NULL);
	int ret = vmm_vm_pause(c->vm);
	if (ret)
		return host_err_set(err, -ret, "cannot save the guest's clock: %s", strerror(-ret));
	c->state = VMM_STATE_PAUSED;
	vmm_event("vm", "paused", NULL);
	return 0;
}

int vmm_ctl_resume(struct vmm_ctl *c, struct host_err *err)
{
	vmm_event("vm", "resuming", NULL);
	int ret = vmm_vm_resume(c->vm);
	c->state = VMM_STATE_RUNNING;
	if (ret)
		return host_err_set(err, -ret,
				    "resumed, but the guest's clock was not set back: %s",
				    strerror(-ret));
	vmm_event("vm", "resumed", NULL);
	return 0;
}

void vmm_ctl_delete(struct vmm_ctl *c)
{
	if (vmm_ctl_state(c) == VMM_STATE_NONE)
		return;
	vmm_ctl_shutdown(c);
	vmm_vmconfig_free(&c->vc);
	c->state = VMM_STATE_NONE;
}

int vmm_ctl_status(struct vmm_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	int s = c->status;
	pthread_mutex_unlock(&c->lock);
	return s;
}
