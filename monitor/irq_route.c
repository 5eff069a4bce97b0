/* SPDX-License-Identifier: MIT */
#include "irq_route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PIC_PINS       16
#define PIC_SLAVE_BASE 8
#define PIC_CASCADE    2

int vmm_irq_routes_init(struct vmm_irq_routes *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->next_gsi = VMM_IOAPIC_PINS;
	return -pthread_mutex_init(&r->lock, NULL);
}

void vmm_irq_routes_destroy(struct vmm_irq_routes *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* The table KVM starts with: GSI n on I/O APIC pin n, and GSIs 0-15 also on the PICs (but for
 * the cascade). Rebuilt in full because KVM_SET_GSI_ROUTING replaces everything. */
static unsigned add_legacy(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;
	for (unsigned gsi = 0; gsi < VMM_IOAPIC_PINS; gsi++) {
		if (gsi < PIC_PINS && gsi != PIC_CASCADE)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = {.irqchip = gsi < PIC_SLAVE_BASE
								 ? KVM_IRQCHIP_PIC_MASTER
								 : KVM_IRQCHIP_PIC_SLAVE,
					      .pin = gsi % PIC_SLAVE_BASE}};
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi}};
	}
	return n;
}

static int commit(struct vmm_irq_routes *r)
{
	size_t max = 2 * VMM_IOAPIC_PINS + r->nr_msi;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	unsigned n = add_legacy(t->entries);
	for (unsigned i = 0; i < r->nr_msi; i++) {
		if (!r->msi[i].valid)
			continue;
		t->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = r->msi[i].gsi,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {.address_lo = (uint32_t)r->msi[i].addr,
				  .address_hi = (uint32_t)(r->msi[i].addr >> 32),
				  .data = r->msi[i].data}};
	}
	t->nr = n;
	int ret = ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return ret;
}

int vmm_irq_route_msi_alloc(struct vmm_irq_routes *r)
{
	int ret = -ENOSPC;
	pthread_mutex_lock(&r->lock);
	if (r->next_gsi < VMM_MAX_GSI && r->nr_msi < VMM_MAX_GSI) {
		ret = (int)r->next_gsi++;
		r->msi[r->nr_msi++] = (typeof(r->msi[0])){.gsi = (unsigned)ret};
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int vmm_irq_route_msi_set(struct vmm_irq_routes *r, unsigned gsi, bool valid, uint64_t addr,
			  uint32_t data)
{
	int ret = -ENOENT;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nr_msi; i++) {
		if (r->msi[i].gsi != gsi)
			continue;
		if (r->msi[i].valid == valid && r->msi[i].addr == addr && r->msi[i].data == data) {
			ret = 0; /* unchanged: spare KVM a table rebuild */
			break;
		}
		r->msi[i].valid = valid;
		r->msi[i].addr = addr;
		r->msi[i].data = data;
		ret = commit(r);
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int vmm_irqfd(int vm_fd, int efd, unsigned gsi, bool attach)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd, .gsi = gsi, .flags = attach ? 0 : KVM_IRQFD_FLAG_DEASSIGN};
	return ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}
