/* SPDX-License-Identifier: MIT */
/*
 * The VM as the management API drives it: its configuration, its state (the dialect's
 * Created, Running, Paused, Shutdown), and the thread it runs on, so that the controller can
 * pause, stop and boot it again while the process stays. routes.c maps endpoints onto this.
 *
 * Threads: every call here is made by one thread at a time (the API's controller, or main
 * before the server starts and after it stops). The VM thread only runs the VM, reboots it when
 * the guest resets it, and says when it ended on its own; the controller reaps it on its next
 * call.
 */
#ifndef VMMON_API_CTL_H
#define VMMON_API_CTL_H

#include <pthread.h>
#include <stdbool.h>

#include "api.h"
#include "host/err.h"
#include "vm.h"
#include "vmconfig.h"

enum vmm_vm_state {
	VMM_STATE_NONE, /* no VM created */
	VMM_STATE_CREATED,
	VMM_STATE_RUNNING,
	VMM_STATE_PAUSED,
	VMM_STATE_SHUTDOWN,
};

struct vmm_ctl {
	struct vmm_vm *vm; /* large: main's static one */
	struct vmm_vmconfig vc;
	enum vmm_vm_state state;
	int quit_fd; /* eventfd main waits on: vmm.shutdown writes it */

	pthread_mutex_t lock; /* the fields below, shared with the VM thread */
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_live; /* started and not yet joined */
	bool ended;	  /* the VM thread returned */
	bool stop_wanted; /* the controller stops it: a reset is no reboot */
	unsigned reboots; /* VM thread: machines built again */
	int status;	  /* the last run's exit status */
};

void vmm_ctl_init(struct vmm_ctl *c, struct vmm_vm *vm, int quit_fd);
/* The state, after reaping a VM that ended on its own (guest poweroff, crash). */
enum vmm_vm_state vmm_ctl_state(struct vmm_ctl *c);
const char *vmm_ctl_state_name(enum vmm_vm_state s);
/* Builds, loads and starts the VM from c->vc (Created or Shutdown). */
int vmm_ctl_boot(struct vmm_ctl *c, struct host_err *err);
/* Stops and destroys the running or paused VM: Shutdown. */
void vmm_ctl_shutdown(struct vmm_ctl *c);
/* The guest's machine built again (Running or Paused): waits until it runs. */
int vmm_ctl_reboot(struct vmm_ctl *c, struct host_err *err);
int vmm_ctl_pause(struct vmm_ctl *c, struct host_err *err);
int vmm_ctl_resume(struct vmm_ctl *c, struct host_err *err);
/* Shuts the VM down if it runs and forgets its configuration: no VM. */
void vmm_ctl_delete(struct vmm_ctl *c);
/* The exit status of the VM's last run (for main, when it ended the process). */
int vmm_ctl_status(struct vmm_ctl *c);

/* The vmm_api_handler (routes.c); ctx is the struct vmm_ctl. */
void vmm_routes_handle(void *ctx, const struct vmm_api_request *req, struct vmm_api_response *resp);

#endif
