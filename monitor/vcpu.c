/* SPDX-License-Identifier: MIT */
#include "vcpu.h"
#include "host/util.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vm.h"

#define KICK_SIGNAL	 SIGUSR1
#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_EXTINT 0x700
#define APIC_MODE_NMI	 0x400
#define MAX_INSN_BYTES	 15

static void kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return with EINTR */
}

int vmm_vcpu_signals_init(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	return sigaction(KICK_SIGNAL, &sa, NULL) ? -errno : 0;
}

/* Virtual-wire mode, as firmware leaves it: the PIC on LINT0, NMI on LINT1. */
static int setup_lapic(int fd)
{
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	uint32_t lint0 = APIC_MODE_EXTINT, lint1 = APIC_MODE_NMI;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, sizeof(lint0));
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, sizeof(lint1));
	return ioctl(fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}

static int setup_cpuid(struct vmm_vcpu *v)
{
	struct vmm_cpuid *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c, &v->vm->cpuid, sizeof(*c));
	vmm_cpuid_set_topology(c, v->id, v->vm->nr_vcpus);
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0)
		vmm_cpuid_set_timing(c, (uint32_t)khz);
	int ret = ioctl(v->fd, KVM_SET_CPUID2, &c->hdr) < 0 ? -errno : 0;
	free(c);
	return ret;
}

int vmm_vcpu_create(struct vmm_vcpu *v, struct vmm_vm *vm, unsigned id, struct host_err *err)
{
	int ret;
	*v = (struct vmm_vcpu){.vm = vm, .id = id, .fd = -1};
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return host_err_set(err, errno, "cannot create vCPU %u: %s", id, strerror(errno));
	v->run = mmap(NULL, (size_t)vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = host_err_set(err, errno, "cannot map vCPU %u: %s", id, strerror(errno));
		goto err_close;
	}
	ret = setup_cpuid(v);
	if (ret) {
		host_err_set(err, -ret, "cannot set CPUID of vCPU %u: %s", id, strerror(-ret));
		goto err_unmap;
	}
	if (vm->kvm.has_stats_fd)
		vmm_kvm_stats_open(&v->kvm_stats, v->fd); /* optional: only --stats reads it */
	else
		v->kvm_stats.fd = -1;
	ret = setup_lapic(v->fd);
	if (ret) {
		host_err_set(err, -ret, "cannot set up the local APIC of vCPU %u: %s", id,
			     strerror(-ret));
		goto err_unmap;
	}
	return 0;
err_unmap:
	munmap(v->run, (size_t)vm->kvm.run_size);
	v->run = NULL;
err_close:
	close(v->fd);
	v->fd = -1;
	return ret;
}

static void handle_io(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	unsigned size = r->io.size;
	uint64_t span = (uint64_t)r->io.count * size;
	/* KVM puts the data inside the shared page; check anyway rather than trust offsets. */
	if (r->io.data_offset > (uint64_t)v->vm->kvm.run_size ||
	    span > (uint64_t)v->vm->kvm.run_size - r->io.data_offset)
		return;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool write = r->io.direction == KVM_EXIT_IO_OUT;
	/* A string instruction (rep ins/outs) arrives as `count` accesses to the same port: one
	 * dispatch, so a device with a rep handler moves the burst under one lock. (KVM batches
	 * rep ins up to 1 KiB and the end of the guest's page per exit; rep outs exits per
	 * element.) */
	vmm_bus_access_rep(&v->vm->pio, r->io.port, data, size, r->io.count, write);
}

static void handle_mmio(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	if (r->mmio.len > sizeof(r->mmio.data))
		return;
	vmm_bus_access(&v->vm->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
		       r->mmio.is_write);
}

/* Reads up to 15 bytes at the guest's CS:RIP through its page tables. */
static unsigned fetch_insn(const struct vmm_vcpu *v, uint8_t *buf)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return 0;
	unsigned n = 0;
	for (; n < MAX_INSN_BYTES; n++) {
		struct kvm_translation t = {.linear_address = sregs.cs.base + regs.rip + n};
		if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid ||
		    gmem_read(&v->vm->mem, t.physical_address, &buf[n], 1))
			break;
	}
	return n;
}

static void print_bytes(FILE *out, const char *what, const uint8_t *b, unsigned n)
{
	fprintf(out, "  %s:", what);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, " %02x", b[i]);
	fprintf(out, n ? "\n" : " (unreadable)\n");
}

void vmm_vcpu_dump(const struct vmm_vcpu *v, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out,
		"  rip %016llx rsp %016llx rflags %08llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		"  cs %04x (base %llx, dpl %u, l %u, db %u) ss %04x ds %04x tr %04x\n"
		"  gdt %llx/%x idt %llx/%x apic_base %llx\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9,
		r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.cs.selector, s.cs.base, s.cs.dpl, s.cs.l, s.cs.db, s.ss.selector, s.ds.selector,
		s.tr.selector, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit, s.apic_base);
	uint8_t insn[MAX_INSN_BYTES];
	print_bytes(out, "code at rip", insn, fetch_insn(v, insn));
}

static void report_internal_error(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	fprintf(stderr, "vmmon: vCPU %u: KVM internal error, suberror %u", v->id,
		r->internal.suberror);
	if (r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		fprintf(stderr, " (instruction emulation failed)");
	fprintf(stderr, "\n");
	for (uint32_t i = 0; i < r->internal.ndata && i < 16; i++)
		fprintf(stderr, "  data[%u] = %llx\n", i, r->internal.data[i]);
	if (r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (r->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = r->emulation_failure.insn_size;
		print_bytes(stderr, "instruction", r->emulation_failure.insn_bytes,
			    n < MAX_INSN_BYTES ? n : MAX_INSN_BYTES);
	}
	vmm_vcpu_dump(v, stderr);
}

static void crash(struct vmm_vcpu *v, const char *what)
{
	fprintf(stderr, "vmmon: vCPU %u: %s\n", v->id, what);
	vmm_vcpu_dump(v, stderr);
	vmm_vm_stop(v->vm, VMM_EXIT_GUEST_CRASH);
}

/* Handles one exit. Returns false when the vCPU must stop. */
static bool handle_exit(struct vmm_vcpu *v)
{
	struct kvm_run *r = v->run;
	/* Every coalesced write made before this exit reaches its device first, and, for a port
	 * a doorbell covers, every doorbell rung (coalesce.c). */
	vmm_coalesce_sync(&v->vm->coalesce, r->exit_reason == KVM_EXIT_IO ? r->io.port : 0);
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		atomic_fetch_add_explicit(&v->stats.io, 1, memory_order_relaxed);
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		atomic_fetch_add_explicit(&v->stats.mmio, 1, memory_order_relaxed);
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT: /* only without an in-kernel LAPIC; the next KVM_RUN waits */
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		break;
	case KVM_EXIT_SHUTDOWN:
		if (v->vm->cfg->firmware) {
			vmm_vm_request_reset(v->vm); /* a PC's chipset resets on shutdown */
			return false;
		}
		crash(v, "triple fault (the guest shut down the CPU)");
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		char msg[96];
		snprintf(msg, sizeof(msg), "VM entry failed, hardware reason 0x%llx on host CPU %u",
			 r->fail_entry.hardware_entry_failure_reason, r->fail_entry.cpu);
		crash(v, msg);
		return false;
	}
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(v);
		vmm_vm_stop(v->vm, VMM_EXIT_GUEST_CRASH);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vmm_vm_stop(v->vm, r->system_event.type == KVM_SYSTEM_EVENT_CRASH
					   ? VMM_EXIT_GUEST_CRASH
					   : VMM_EXIT_OK);
		return false;
	default: {
		char msg[64];
		snprintf(msg, sizeof(msg), "unexpected KVM exit reason %u", r->exit_reason);
		crash(v, msg);
		return false;
	}
	}
	atomic_fetch_add_explicit(&v->stats.other, 1, memory_order_relaxed);
	return true;
}

/* Paused (vmm_vm_pause): out of KVM_RUN until resumed or stopped. A pending I/O completion
 * stays in kvm_run and completes at the next KVM_RUN. */
static void park(struct vmm_vcpu *v)
{
	struct vmm_vm *vm = v->vm;
	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pausing) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	/* The kick that brought it here must not end the next KVM_RUN at once. */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	struct vmm_vm *vm = v->vm;
	/* Kicks are delivered to this thread only while it may sit in KVM_RUN. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pausing)) {
			park(v);
			continue;
		}
		int ret = ioctl(v->fd, KVM_RUN, 0);
		if (!v->stats.first_exit_ns && ret == 0)
			v->stats.first_exit_ns = host_now_ns();
		atomic_fetch_add_explicit(&v->stats.runs, 1, memory_order_relaxed);
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "vmmon: vCPU %u: KVM_RUN failed: %s\n", v->id,
				strerror(errno));
			vmm_vm_stop(vm, VMM_EXIT_ERROR);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vmm_vcpu_start(struct vmm_vcpu *v)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (ret)
		return -ret;
	v->started = true;
	return 0;
}

void vmm_vcpu_kick(struct vmm_vcpu *v)
{
	if (!v->started)
		return;
	/* immediate_exit covers the window before the thread enters KVM_RUN; the signal covers
	 * a thread already inside it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KICK_SIGNAL);
}

void vmm_vcpu_join(struct vmm_vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

void vmm_vcpu_destroy(struct vmm_vcpu *v)
{
	vmm_kvm_stats_close(&v->kvm_stats);
	if (v->run)
		munmap(v->run, (size_t)v->vm->kvm.run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
