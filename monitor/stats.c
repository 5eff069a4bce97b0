/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices.h"
#include "vcpu.h"
#include "vm.h"

int vmm_kvm_stats_open(struct vmm_kvm_stats *s, int vcpu_fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0)
		return -errno;
	struct kvm_stats_header h;
	if (pread(s->fd, &h, sizeof(h), 0) != sizeof(h))
		goto fail;
	s->num_desc = h.num_desc;
	s->name_size = h.name_size;
	s->desc_offset = h.desc_offset;
	s->data_offset = h.data_offset;
	size_t size = (sizeof(struct kvm_stats_desc) + h.name_size) * h.num_desc;
	s->desc = malloc(size);
	if (!s->desc || pread(s->fd, s->desc, size, (off_t)h.desc_offset) != (ssize_t)size)
		goto fail;
	return 0;
fail:
	vmm_kvm_stats_close(s);
	return -EIO;
}

void vmm_kvm_stats_close(struct vmm_kvm_stats *s)
{
	free(s->desc);
	s->desc = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

uint64_t vmm_kvm_stat(const struct vmm_kvm_stats *s, const char *name)
{
	if (!s->desc)
		return 0;
	size_t step = sizeof(struct kvm_stats_desc) + s->name_size;
	for (uint32_t i = 0; i < s->num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(s->desc + i * step);
		if (d->size != 1 || strncmp(d->name, name, s->name_size) != 0)
			continue;
		uint64_t v = 0;
		if (pread(s->fd, &v, sizeof(v), (off_t)(s->data_offset + d->offset)) != sizeof(v))
			return 0;
		return v;
	}
	return 0;
}

/* ------------------------------------------------------------ the --stats report ------------ */

/* One "Key:   N kB" line of /proc/self/status, or 0. */
static uint64_t status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Resident memory: guest RAM is the memfd's pages (RssShmem); the rest is vmmon's own. */
static void print_memory(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	uint64_t anon = status_kib(buf, "\nRssAnon:"), file = status_kib(buf, "\nRssFile:");
	fprintf(stderr,
		"vmmon: stats: memory: guest RAM touched %" PRIu64 " KiB; vmmon %" PRIu64
		" KiB (anon %" PRIu64 ", file %" PRIu64 "); peak rss %" PRIu64 " KiB\n",
		status_kib(buf, "\nRssShmem:"), anon + file, anon, file,
		status_kib(buf, "\nVmHWM:"));
}

/* Dispatches per device on one bus, the busiest first; then the accesses nothing took or
 * that were refused (those are also counted under their device). */
static void print_by_device(const struct vmm_bus *bus)
{
	uint64_t n[VMM_BUS_MAX_NAMES];
	bool done[VMM_BUS_MAX_NAMES] = {false};
	unsigned nr =
		bus->nr_counters < VMM_BUS_MAX_NAMES ? bus->nr_counters + 1 : VMM_BUS_MAX_NAMES;
	for (unsigned i = 0; i < nr; i++)
		n[i] = atomic_load_explicit(&bus->counter[i].dispatches, memory_order_relaxed);
	fprintf(stderr, "vmmon: stats: %s exits by device:", bus->name);
	for (;;) {
		unsigned best = nr;
		for (unsigned i = 0; i < nr; i++)
			if (!done[i] && n[i] && (best == nr || n[i] > n[best]))
				best = i;
		if (best == nr)
			break;
		done[best] = true;
		fprintf(stderr, " %s %" PRIu64, bus->counter[best].name, n[best]);
	}
	fprintf(stderr, "; unhandled %" PRIu64 "\n", (uint64_t)bus->unhandled);
}

void vmm_stats_print(const struct vmm_vm *vm)
{
	uint64_t io = 0, mmio = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		const struct vmm_vcpu_stats *s = &vm->vcpus[i].stats;
		fprintf(stderr,
			"vmmon: stats: vcpu %u: %" PRIu64 " KVM_RUN returns, %" PRIu64
			" pio, %" PRIu64 " mmio, %" PRIu64 " other\n",
			i, (uint64_t)s->runs, (uint64_t)s->io, (uint64_t)s->mmio,
			(uint64_t)s->other);
		io += s->io;
		mmio += s->mmio;
	}
	fprintf(stderr,
		"vmmon: stats: userspace exits: %" PRIu64 " pio + %" PRIu64 " mmio; unhandled "
		"accesses: %" PRIu64 " pio, %" PRIu64 " mmio\n",
		io, mmio, (uint64_t)vm->pio.unhandled, (uint64_t)vm->mmio.unhandled);
	print_by_device(&vm->pio);
	print_by_device(&vm->mmio);
	fprintf(stderr, "vmmon: stats: first guest exit at CLOCK_MONOTONIC %" PRIu64 " ns\n",
		vm->vcpus[0].stats.first_exit_ns);
	/* Writes KVM kept in the coalesced ring instead of exiting, and doorbell reads. */
	fprintf(stderr,
		"vmmon: stats: coalesced ring: %s, %" PRIu64 " writes applied in %" PRIu64
		" drains; %" PRIu64 " doorbell reads\n",
		vm->coalesce.ring ? "on" : "off", (uint64_t)vm->coalesce.entries,
		(uint64_t)vm->coalesce.drains, (uint64_t)vm->coalesce.bell_reads);
	/* KVM's own count, summed over vCPUs: userspace exits are io_exits + mmio_exits. */
	static const char *const kvm[] = {"exits",	    "io_exits",	  "mmio_exits",
					  "signal_exits",   "halt_exits", "irq_injections",
					  "insn_emulation", "halt_wakeup"};
	fprintf(stderr, "vmmon: stats: kvm:");
	for (size_t k = 0; k < sizeof(kvm) / sizeof(kvm[0]); k++) {
		uint64_t sum = 0;
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			sum += vmm_kvm_stat(&vm->vcpus[i].kvm_stats, kvm[k]);
		fprintf(stderr, " %s %" PRIu64, kvm[k], sum);
	}
	fprintf(stderr, "\n");
	vmm_devices_print_stats(vm);
	print_memory();
}
