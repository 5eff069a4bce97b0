/* SPDX-License-Identifier: MIT */
/*
 * The VM's GSI routing table: the PIC and I/O APIC pins (as KVM's default table has them) plus
 * one MSI route per device interrupt vector, each fed by an irqfd. KVM_SET_GSI_ROUTING replaces
 * the whole table, so vmmon keeps the full table here and commits it on every change.
 */
#ifndef VMMON_IRQ_ROUTE_H
#define VMMON_IRQ_ROUTE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VMM_IOAPIC_PINS 24
#define VMM_MAX_GSI	1024

struct vmm_irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	unsigned next_gsi; /* the next GSI to hand out for MSI */
	unsigned nr_msi;
	struct {
		unsigned gsi;
		bool valid; /* a message is programmed; otherwise the GSI routes nowhere */
		uint64_t addr;
		uint32_t data;
	} msi[VMM_MAX_GSI];
};

int vmm_irq_routes_init(struct vmm_irq_routes *r, int vm_fd);
void vmm_irq_routes_destroy(struct vmm_irq_routes *r);
/* A new GSI for an MSI vector, routed nowhere until set. Returns the GSI or -ENOSPC. */
int vmm_irq_route_msi_alloc(struct vmm_irq_routes *r);
/* Points gsi at an MSI message (or at nothing when valid is false) and commits the table. */
int vmm_irq_route_msi_set(struct vmm_irq_routes *r, unsigned gsi, bool valid, uint64_t addr,
			  uint32_t data);

/* Attaches or detaches an eventfd to a GSI (KVM_IRQFD). A signal while detached stays in the
 * eventfd's counter and is delivered when it is attached again, which is how a masked MSI-X
 * vector keeps its pending bit. */
int vmm_irqfd(int vm_fd, int efd, unsigned gsi, bool attach);

#endif
