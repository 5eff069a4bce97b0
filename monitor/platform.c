/* SPDX-License-Identifier: MIT */
#include "platform.h"

#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "mp.h"
#include "vm.h"

#define LAPIC_VERSION  0x14 /* KVM's local APIC (an integrated xAPIC) */
#define IOAPIC_VERSION 0x11 /* KVM's 24-pin I/O APIC */
#define CPUID_FEATURES 1

static void reset_request(void *ctx)
{
	/* A reset ends the VM, as in Firecracker and Cloud Hypervisor: the host restarts it if
	 * it wants a new boot. */
	vmm_vm_stop(ctx, VMM_EXIT_OK);
}

static void debug_exit_request(void *ctx, uint32_t value)
{
	/* An exit status holds 8 bits: clamp rather than let 256 read as success. */
	vmm_vm_stop(ctx, value > 255 ? 255 : (int)value);
}

struct trap_def {
	uint64_t base, size;
	vmm_trap_fn fn;
	void *dev;
	const char *name;
};

int vmm_platform_init(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_platform *p = &vm->plat;
	struct vmm_irq com1_irq = {.set = vmm_vm_set_irq, .ctx = vm, .gsi = GUEST_COM1_IRQ};
	uart_init(&p->com1, com1_irq, vmm_console_tx, vmm_console_rx_room, &vm->con);
	rtc_init(&p->rtc, NULL, vmm_ram_below_4g(vm->ram_size), vmm_ram_above_4g(vm->ram_size));
	i8042_init(&p->i8042, reset_request, vm);
	debug_exit_init(&p->debug_exit, debug_exit_request, vm);
	pci_host_init(&p->pci, reset_request, vm);
	p->ready = true;

	const struct trap_def pio[] = {
		{GUEST_COM1_PORT, UART_NR_PORTS, uart_trap, &p->com1, "com1"},
		{GUEST_RTC_PORT, RTC_NR_PORTS, rtc_trap, &p->rtc, "rtc"},
		{GUEST_I8042_DATA_PORT, I8042_NR_PORTS, i8042_trap, &p->i8042, "i8042"},
		{GUEST_DEBUG_EXIT_PORT, GUEST_DEBUG_EXIT_SIZE, debug_exit_trap, &p->debug_exit,
		 "debug-exit"},
		{PCI_HOST_ADDR_PORT, 4, pci_host_addr_trap, &p->pci, "pci-address"},
		{PCI_HOST_DATA_PORT, 4, pci_host_data_trap, &p->pci, "pci-data"},
		{PCI_IO_WINDOW, PCI_IO_WINDOW_END - PCI_IO_WINDOW, pci_host_io_trap, &p->pci,
		 "pci-io"},
	};
	for (size_t i = 0; i < sizeof(pio) / sizeof(pio[0]); i++) {
		int ret = vmm_bus_register(&vm->pio, pio[i].base, pio[i].size, pio[i].fn,
					   pio[i].dev, pio[i].name);
		if (ret)
			return host_err_set(err, -ret, "cannot register %s at port 0x%llx",
					    pio[i].name, (unsigned long long)pio[i].base);
	}
	return 0;
}

void vmm_platform_destroy(struct vmm_vm *vm)
{
	struct vmm_platform *p = &vm->plat;
	if (!p->ready)
		return;
	p->ready = false;
	pci_host_destroy(&p->pci);
	i8042_destroy(&p->i8042);
	rtc_destroy(&p->rtc);
	uart_destroy(&p->com1);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

int vmm_platform_write_tables(struct vmm_vm *vm, struct host_err *err)
{
	/* BIOS data area: where the EBDA starts and how much base memory there is, which
	 * guests use to find the MP floating pointer and to size low memory. */
	uint8_t *bda = gmem_ptr(&vm->mem, LAYOUT_BDA_EBDA_SEG, 8);
	if (!bda)
		return host_err_set(err, EFAULT, "the BIOS data area is not in guest RAM");
	put16(gmem_ptr(&vm->mem, LAYOUT_BDA_EBDA_SEG, 2), (uint16_t)(LAYOUT_EBDA >> 4));
	put16(gmem_ptr(&vm->mem, LAYOUT_BDA_BASE_MEM, 2), (uint16_t)(LAYOUT_EBDA >> 10));

	struct kvm_cpuid_entry2 *leaf1 = vmm_cpuid_find(&vm->cpuid, CPUID_FEATURES, 0);
	struct vmm_mp_config mp = {
		.nr_cpus = vm->nr_vcpus,
		.cpu_signature = leaf1 ? leaf1->eax : 0,
		.cpu_features = leaf1 ? leaf1->edx : 0,
		.lapic_version = LAPIC_VERSION,
		.ioapic_id = (uint8_t)vm->nr_vcpus, /* after the CPUs' APIC IDs */
		.ioapic_version = IOAPIC_VERSION,
		.ioapic_addr = GUEST_IOAPIC_BASE,
		.lapic_addr = GUEST_LAPIC_BASE,
	};
	/* Every PCI function with an interrupt pin but the host bridge may raise INTx (the IDE
	 * controller in compatibility mode has none: its channels use ISA IRQs 14 and 15). */
	for (unsigned s = 1; s < PCI_SLOTS; s++)
		if (vm->plat.pci.slot[s] && vm->plat.pci.slot[s]->cfg[PCI_INTERRUPT_PIN])
			mp.pci_irq[mp.nr_pci_irqs++] =
				(typeof(mp.pci_irq[0])){(uint8_t)s, (uint8_t)vmm_pci_intx_pin(s)};
	size_t cap = LAYOUT_HIGH_RAM - LAYOUT_BIOS;
	uint8_t *bios = gmem_ptr(&vm->mem, LAYOUT_BIOS, cap);
	long n = bios ? vmm_mptable_build(bios, cap, (uint32_t)LAYOUT_BIOS, &mp) : -EFAULT;
	if (n < 0)
		return host_err_set(err, (int)-n, "cannot write the MP table for %u CPUs",
				    vm->nr_vcpus);
	return 0;
}
