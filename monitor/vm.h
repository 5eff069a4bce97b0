/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: KVM VM, guest RAM (a memfd, so other processes can map it), the interrupt
 * controllers, the platform devices, the vCPUs, and how it all stops.
 */
#ifndef VMMON_VM_H
#define VMMON_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "coalesce.h"
#include "config.h"
#include "console.h"
#include "cpuid.h"
#include "dev/debug_exit.h"
#include "dev/i8042.h"
#include "dev/pci.h"
#include "dev/rtc.h"
#include "dev/uart16550.h"
#include "devices.h"
#include "e820.h"
#include "host/err.h"
#include "gmem.h"
#include "kvm.h"

/* vmmon's exit statuses besides the guest's own debug-exit value. */
#define VMM_EXIT_OK	     0
#define VMM_EXIT_ERROR	     1	 /* bad arguments, or vmmon or KVM failed */
#define VMM_EXIT_GUEST_CRASH 2	 /* triple fault, KVM internal error, failed entry */
#define VMM_EXIT_SIGNAL_BASE 128 /* killed by a signal: 128 + its number, as shells report */

struct vmm_vcpu;

struct vmm_platform {
	bool ready; /* initialised: the devices below hold locks to destroy */
	struct uart16550 com1;
	struct rtc rtc;
	struct i8042 i8042;
	struct debug_exit debug_exit;
	struct pci_host pci;
};

struct vmm_vm {
	const struct vmm_config *cfg;
	struct vmm_kvm kvm;
	int fd;

	int ram_fd;
	uint8_t *ram;
	uint64_t ram_size;
	struct gmem mem;
	struct vmm_e820 e820;

	struct vmm_bus pio, mmio;
	struct vmm_coalesce coalesce; /* KVM's coalesced PIO ring and the doorbells that need it */
	bool coalesce_ready;
	struct vmm_cpuid cpuid;
	struct vmm_platform plat;
	struct vmm_devices devs;
	struct vmm_console con;

	unsigned nr_vcpus;
	struct vmm_vcpu *vcpus;

	/* Stopping: the first request wins and sets the exit status. */
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	int exit_status;
	int stop_fd; /* eventfd that wakes the main loop */
};

int vmm_vm_create(struct vmm_vm *vm, const struct vmm_config *cfg, struct host_err *err);
/* Loads the kernel, writes the platform tables and sets up the boot CPU. */
int vmm_vm_load(struct vmm_vm *vm, struct host_err *err);
/* Runs until the guest or a signal ends it; returns vmmon's exit status. */
int vmm_vm_run(struct vmm_vm *vm);
void vmm_vm_destroy(struct vmm_vm *vm);
/* Asks the VM to stop with `status`; callable from any thread, only the first call counts. */
void vmm_vm_stop(struct vmm_vm *vm, int status);
/* Drives a GSI of the in-kernel interrupt controllers (the vmm_irq callback). */
int vmm_vm_set_irq(void *vm, unsigned gsi, bool level);

#endif
