/* SPDX-License-Identifier: MIT */
/* One thread per vCPU: the KVM_RUN loop and its dispatch of exits to the buses. */
#ifndef VMMON_VCPU_H
#define VMMON_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "host/err.h"
#include "stats.h"

struct vmm_vm;

/* Userspace exits by kind, for --stats and the benchmarks. */
struct vmm_vcpu_stats {
	atomic_uint_fast64_t runs; /* KVM_RUN returns */
	atomic_uint_fast64_t io, mmio, other;
	uint64_t first_exit_ns; /* CLOCK_MONOTONIC at the first exit: the guest has run */
};

struct vmm_vcpu {
	struct vmm_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vmm_vcpu_stats stats;
	struct vmm_kvm_stats kvm_stats; /* KVM's own counters, when the kernel has them */
};

int vmm_vcpu_create(struct vmm_vcpu *v, struct vmm_vm *vm, unsigned id, struct host_err *err);
int vmm_vcpu_start(struct vmm_vcpu *v);
/* Makes a running KVM_RUN return (the vCPU then sees vm->stopping). */
void vmm_vcpu_kick(struct vmm_vcpu *v);
void vmm_vcpu_join(struct vmm_vcpu *v);
void vmm_vcpu_destroy(struct vmm_vcpu *v);
/* Registers, segments and control registers, for crash reports. */
void vmm_vcpu_dump(const struct vmm_vcpu *v, FILE *out);
/* Installs the no-op signal handler used by vmm_vcpu_kick. Call once before starting vCPUs. */
int vmm_vcpu_signals_init(void);

#endif
