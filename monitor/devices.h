/* SPDX-License-Identifier: MIT */
/*
 * The VM's I/O devices: built from the configuration, the virtio devices each on its transport
 * (PCI with BARs pre-assigned in the 32-bit hole, or virtio-mmio announced on the kernel
 * command line), the emulated legacy NIC (PCnet) and the ATA disks on one PIIX IDE controller
 * (their I/O BARs pre-assigned from port 0xC000), all served by one I/O thread.
 */
#ifndef VMMON_DEVICES_H
#define VMMON_DEVICES_H

#include <stdint.h>

#include "config.h"
#include "host/err.h"
#include "io/loop.h"
#include "irq_route.h"
#include "virtio/pci.h"

#define VMM_MAX_VIRTIO	   16
#define VMM_PCI_WINDOW	   0xc0000000ull /* BARs, up to VMM_MMIO_WINDOW */
#define VMM_MMIO_WINDOW	   0xd0000000ull /* virtio-mmio devices, 4 KiB apart */
#define VMM_CMDLINE_EXTRA  512
#define VMM_PCI_IO_BARS	   0xc000 /* I/O BARs, up to PCI_IO_WINDOW_END */
#define VMM_PCI_INTX_FIRST 16	  /* PCI INTx: GSIs 16-23 (I/O APIC pins free of ISA IRQs) */
#define VMM_PCI_INTX_PINS  8

struct vmm_vm;
struct vmm_virtio_mmio;
struct pcnet_pci;
struct piix_ide;

struct vmm_virtio_slot {
	struct vmm_virtio_dev *vdev;
	void *model; /* the vblk_dev, vrng_dev, ... that owns vdev */
	void (*destroy)(void *model);
	struct vmm_virtio_pci *pci;
	struct vmm_virtio_mmio *mmio;
	const struct vmm_disk_config *disk; /* the --disk a virtio-blk device serves, or NULL */
	const struct vmm_net_config *net;   /* the --net a virtio-net device serves, or NULL */
};

struct vmm_devices {
	struct vmm_io io;
	bool io_ready;
	struct vmm_irq_routes routes;
	bool routes_ready;
	struct vmm_virtio_host host;
	unsigned nr;
	struct vmm_virtio_slot slot[VMM_MAX_VIRTIO];
	uint64_t next_bar;
	uint32_t next_io_bar;
	struct pcnet_pci *pcnet[VMM_MAX_NETS]; /* --net ...,model=pcnet */
	unsigned nr_pcnet;
	struct piix_ide *ide; /* the ATA disks' controller, if any */
	unsigned nr_mmio;
	char cmdline[VMM_CMDLINE_EXTRA]; /* virtio_mmio.device=... words for the kernel */
};

int vmm_devices_init(struct vmm_vm *vm, struct host_err *err);
int vmm_devices_start(struct vmm_vm *vm);
void vmm_devices_stop(struct vmm_vm *vm);
/* vm.pause/vm.resume, vCPUs parked: vhost-user back-ends stop their rings / start them again. */
void vmm_devices_pause(struct vmm_vm *vm);
void vmm_devices_resume(struct vmm_vm *vm);
void vmm_devices_destroy(struct vmm_vm *vm);
/* Per-device counters on stderr: guest kicks, interrupts raised, driver errors, frames. */
void vmm_devices_print_stats(const struct vmm_vm *vm);
/* The I/O APIC pin of PCI slot `slot`'s INTA#, as the MP table announces it. */
unsigned vmm_pci_intx_pin(unsigned slot);

#endif
