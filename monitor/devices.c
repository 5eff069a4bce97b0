/* SPDX-License-Identifier: MIT */
#include "devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk.h"
#include "virtio/rng.h"
#include "vm.h"

#define IO_RING_ENTRIES	   1024
#define PCI_INTX_FIRST_PIN 16 /* I/O APIC pins 16-23 are free of ISA interrupts */
#define PCI_INTX_PINS	   8

unsigned vmm_pci_intx_pin(unsigned slot)
{
	return PCI_INTX_FIRST_PIN + slot % PCI_INTX_PINS;
}

static uint64_t alloc_bar(struct vmm_devices *devs, uint64_t size)
{
	uint64_t at = (devs->next_bar + size - 1) & ~(size - 1); /* BARs are size-aligned */
	if (at + size > VMM_MMIO_WINDOW)
		return 0;
	devs->next_bar = at + size;
	return at;
}

static int plug_pci(struct vmm_vm *vm, struct vmm_virtio_slot *s, struct vmm_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	uint64_t bar0 = alloc_bar(devs, VPCI_BAR0_SIZE), bar1 = alloc_bar(devs, VPCI_BAR1_SIZE);
	s->pci = calloc(1, sizeof(*s->pci));
	if (!s->pci || !bar0 || !bar1)
		return vmm_err_set(err, ENOSPC, "too many PCI devices for the MMIO window");
	struct vmm_irq intx = {.set = vmm_vm_set_irq, .ctx = vm};
	int ret = vmm_virtio_pci_init(s->pci, s->vdev, &devs->host, intx, bar0, bar1);
	if (ret)
		return vmm_err_set(err, -ret, "%s: PCI setup failed: %s", s->vdev->ops->name,
				   strerror(-ret));
	int slot = pci_host_add(&vm->plat.pci, &s->pci->pci, -1);
	if (slot < 0)
		return vmm_err_set(err, -slot, "no free PCI slot for %s", s->vdev->ops->name);
	/* The INTx pin depends on the slot, known only now. */
	s->pci->intx.gsi = vmm_pci_intx_pin((unsigned)slot);
	s->pci->pci.cfg[PCI_INTERRUPT_LINE] = (uint8_t)s->pci->intx.gsi;
	return 0;
}

static int add(struct vmm_vm *vm, struct vmm_virtio_dev *vdev, void *model, void (*destroy)(void *),
	       enum vmm_transport transport, struct vmm_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	if (devs->nr == VMM_MAX_VIRTIO) {
		destroy(model);
		return vmm_err_set(err, ENOSPC, "at most %d virtio devices", VMM_MAX_VIRTIO);
	}
	struct vmm_virtio_slot *s = &devs->slot[devs->nr++];
	*s = (struct vmm_virtio_slot){.vdev = vdev, .model = model, .destroy = destroy};
	if (transport == VMM_TRANSPORT_MMIO)
		return vmm_err_set(err, ENOTSUP, "%s: transport=mmio is not available yet",
				   vdev->ops->name);
	return plug_pci(vm, s, err);
}

static void destroy_blk(void *model)
{
	blk_dev_destroy(model);
	free(model);
}

static void destroy_rng(void *model)
{
	rng_dev_destroy(model);
	free(model);
}

static int add_disks(struct vmm_vm *vm, struct vmm_err *err)
{
	for (unsigned i = 0; i < vm->cfg->nr_disks; i++) {
		struct blk_dev *b = calloc(1, sizeof(*b));
		if (!b)
			return vmm_err_set(err, ENOMEM, "out of memory");
		int ret = blk_dev_init(b, &vm->cfg->disks[i], &vm->devs.io, &vm->mem, err);
		if (ret) {
			blk_dev_destroy(b);
			free(b);
			return ret;
		}
		ret = add(vm, &b->vdev, b, destroy_blk, vm->cfg->disks[i].transport, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int add_rng(struct vmm_vm *vm, struct vmm_err *err)
{
	if (!vm->cfg->rng)
		return 0;
	struct rng_dev *r = calloc(1, sizeof(*r));
	if (!r)
		return vmm_err_set(err, ENOMEM, "out of memory");
	int ret = rng_dev_init(r, &vm->devs.io, &vm->mem);
	if (ret) {
		free(r);
		return vmm_err_set(err, -ret, "--rng: %s", strerror(-ret));
	}
	return add(vm, &r->vdev, r, destroy_rng, vm->cfg->rng_transport, err);
}

int vmm_devices_init(struct vmm_vm *vm, struct vmm_err *err)
{
	struct vmm_devices *devs = &vm->devs;
	memset(devs, 0, sizeof(*devs));
	devs->next_bar = VMM_PCI_WINDOW;
	if (!vm->cfg->nr_disks && !vm->cfg->nr_nets && !vm->cfg->rng && !vm->cfg->virtio_console)
		return 0; /* no I/O thread for a VM without virtio devices */
	int ret = vmm_irq_routes_init(&devs->routes, vm->fd);
	if (ret)
		return vmm_err_set(err, -ret, "interrupt routes: %s", strerror(-ret));
	devs->routes_ready = true;
	ret = vmm_io_init(&devs->io, IO_RING_ENTRIES, err);
	if (ret)
		return ret;
	devs->io_ready = true;
	devs->host = (struct vmm_virtio_host){.vm_fd = vm->fd,
					      .mmio = &vm->mmio,
					      .routes = &devs->routes,
					      .ioeventfd_any_length = vm->kvm.ioeventfd_any_length};
	ret = add_disks(vm, err);
	if (!ret)
		ret = add_rng(vm, err);
	return ret;
}

int vmm_devices_start(struct vmm_vm *vm)
{
	return vm->devs.io_ready ? vmm_io_start(&vm->devs.io) : 0;
}

void vmm_devices_stop(struct vmm_vm *vm)
{
	if (vm->devs.io_ready)
		vmm_io_stop(&vm->devs.io);
}

void vmm_devices_destroy(struct vmm_vm *vm)
{
	struct vmm_devices *devs = &vm->devs;
	vmm_devices_stop(vm);
	for (unsigned i = 0; i < devs->nr; i++) {
		struct vmm_virtio_slot *s = &devs->slot[i];
		if (s->pci) {
			vmm_virtio_pci_destroy(s->pci);
			free(s->pci);
		}
		s->destroy(s->model);
	}
	devs->nr = 0;
	if (devs->io_ready)
		vmm_io_destroy(&devs->io);
	if (devs->routes_ready)
		vmm_irq_routes_destroy(&devs->routes);
	devs->io_ready = devs->routes_ready = false;
}
