/* SPDX-License-Identifier: MIT */
/*
 * A virtual machine: KVM VM, guest RAM (a memfd, so other processes can map it), the interrupt
 * controllers, the platform devices, the vCPUs, and how it all stops.
 */
#ifndef VMMON_VM_H
#define VMMON_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "coalesce.h"
#include "config.h"
#include "console.h"
#include "cpuid.h"
#include "dev/debug_exit.h"
#include "dev/debugcon.h"
#include "dev/fw_cfg.h"
#include "dev/i8042.h"
#include "dev/pci.h"
#include "dev/piix3.h"
#include "dev/rtc.h"
#include "dev/uart16550.h"
#include "devices.h"
#include "e820.h"
#include "host/err.h"
#include "gmem.h"
#include "kvm.h"

/* vmmon's exit statuses besides the guest's own debug-exit value. */
#define VMM_EXIT_OK	     0
#define VMM_EXIT_ERROR	     1	  /* bad arguments, or vmmon or KVM failed */
#define VMM_EXIT_GUEST_CRASH 2	  /* triple fault, KVM internal error, failed entry */
#define VMM_EXIT_SIGNAL_BASE 128  /* killed by a signal: 128 + its number, as shells report */
#define VMM_EXIT_RESET	     (-1) /* internal: the machine resets (--firmware); run it again */

struct vmm_vcpu;

struct vmm_platform {
	bool ready; /* initialised: the devices below hold locks to destroy */
	struct uart16550 com1;
	struct rtc rtc;
	int rtc_timer_fd; /* timerfd pacing the RTC's periodic interrupt, read by the main loop */
	struct i8042 i8042;
	struct debug_exit debug_exit;
	struct debugcon debugcon;
	struct pci_host pci;
	/* The PC a firmware expects (--firmware): the i440FX identity on the host bridge, the
	 * PIIX3's ISA bridge with PCI interrupt routing and port 0x92, fw_cfg. */
	bool pc;
	struct piix3 isa;
	struct fw_cfg fw_cfg;
};

struct vmm_vm {
	const struct vmm_config *cfg;
	/* What outlives a reset: the host's ends of the consoles, and the firmware image. */
	struct vmm_console con;
	struct vmm_console debugcon;
	uint8_t *firmware;
	size_t firmware_size;
	unsigned resets;
	/* Driven by the management API: the process's signals are main's (no signalfd here), and
	 * a kernel's reset reboots the VM instead of ending it. Set before vmm_vm_run. */
	bool api;

	/* The machine, built again on each reset: everything from here on (vm.c's teardown
	 * zeroes from kvm to the end). */
	struct vmm_kvm kvm;
	int fd;

	int ram_fd;
	uint8_t *ram;
	uint64_t ram_size;
	void *rom; /* the firmware's read-only copy below 4 GiB (firmware_size bytes), or NULL */
	struct gmem mem;
	struct vmm_e820 e820;

	struct vmm_bus pio, mmio;
	struct vmm_coalesce coalesce; /* KVM's coalesced PIO ring and the doorbells that need it */
	bool coalesce_ready;
	struct vmm_cpuid cpuid;
	struct vmm_platform plat;
	struct vmm_devices devs;

	unsigned nr_vcpus;
	struct vmm_vcpu *vcpus;

	/* Stopping: the first request wins and sets the exit status. */
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	int exit_status;
	int stop_fd; /* eventfd that wakes the main loop */

	/* Pausing (vmm_vm_pause): the vCPUs park on pause_cond, the I/O thread parks too. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pausing;
	unsigned parked;	     /* vCPUs parked */
	struct kvm_clock_data clock; /* kvmclock when paused, set again on resume */
};

int vmm_vm_create(struct vmm_vm *vm, const struct vmm_config *cfg, struct host_err *err);
/* Loads the kernel, writes the platform tables and sets up the boot CPU; or, with --firmware,
 * maps and copies the firmware, fills fw_cfg and puts the boot CPU at the reset vector. */
int vmm_vm_load(struct vmm_vm *vm, struct host_err *err);
/* Runs until the guest or a signal ends it; returns vmmon's exit status, or VMM_EXIT_RESET. */
int vmm_vm_run(struct vmm_vm *vm);
/* After VMM_EXIT_RESET: builds the machine again (KVM VM, RAM, devices, vCPUs) around the same
 * consoles and loads it, as a PC's reset line would leave it. */
int vmm_vm_reset(struct vmm_vm *vm, struct host_err *err);
void vmm_vm_destroy(struct vmm_vm *vm);
/* The signals that end vmmon (INT, TERM, HUP, QUIT), read through a signalfd by whichever
 * loop waits: vmm_vm_run's, or main's in API mode. */
void vmm_term_sigset(sigset_t *set);
/* Asks the VM to stop with `status`; callable from any thread, only the first call counts. */
void vmm_vm_stop(struct vmm_vm *vm, int status);
/* From another thread while vmm_vm_run runs: every vCPU leaves KVM_RUN and parks, the I/O
 * thread stops taking work, kvmclock is saved; resume undoes it. 0 or -errno. */
int vmm_vm_pause(struct vmm_vm *vm);
int vmm_vm_resume(struct vmm_vm *vm);
/* Drives a GSI of the in-kernel interrupt controllers (the vmm_irq callback). On the PC of
 * --firmware, the PCI INTx lines (GSIs VMM_PCI_INTX_FIRST...) go through the PIIX3's routing. */
int vmm_vm_set_irq(void *vm, unsigned gsi, bool level);
/* The guest asked for a reset (i8042, 0xCF9, port 0x92, triple fault): with --firmware the
 * machine restarts; a kernel's VM ends with status 0 (the host restarts it if it wants). */
void vmm_vm_request_reset(struct vmm_vm *vm);

#endif
