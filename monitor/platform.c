/* SPDX-License-Identifier: MIT */
#include "platform.h"

#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "boot/boot.h"
#include "dev/i440fx.h"
#include "layout.h"
#include "mp.h"
#include "vm.h"

#define LAPIC_VERSION  0x14 /* KVM's local APIC (an integrated xAPIC) */
#define IOAPIC_VERSION 0x11 /* KVM's 24-pin I/O APIC */
#define CPUID_FEATURES 1
#define KBD_IRQ	       1 /* ISA IRQ of the i8042's keyboard port */

static void reset_request(void *ctx)
{
	vmm_vm_request_reset(ctx);
}

static void debug_exit_request(void *ctx, uint32_t value)
{
	/* An exit status holds 8 bits: clamp rather than let 256 read as success. */
	vmm_vm_stop(ctx, value > 255 ? 255 : (int)value);
}

/* The RTC's periodic rate changed (a vCPU, the RTC's lock held): re-arm the main loop's timer. */
static void arm_rtc_timer(void *ctx, uint64_t period_ns)
{
	struct vmm_platform *p = ctx;
	struct timespec t = {.tv_sec = (time_t)(period_ns / 1000000000),
			     .tv_nsec = (long)(period_ns % 1000000000)};
	struct itimerspec its = {.it_interval = t, .it_value = t};
	timerfd_settime(p->rtc_timer_fd, 0, &its, NULL); /* cannot fail on a valid timerfd */
}

/* The ROM below 4 GiB: reads never exit (a read-only KVM slot); a write does, and is dropped,
 * as flash ignores plain writes. */
static int rom_write(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
	return is_write ? 0 : -EINVAL;
}

struct trap_def {
	uint64_t base, size;
	vmm_trap_fn fn;
	vmm_trap_rep_fn rep;
	void *dev;
	const char *name;
};

static int register_all(struct vmm_bus *bus, const struct trap_def *t, size_t n,
			struct host_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!t[i].fn)
			continue; /* a device this machine does not have */
		int ret = vmm_bus_register_rep(bus, t[i].base, t[i].size, t[i].fn, t[i].rep,
					       t[i].dev, t[i].name);
		if (ret)
			return host_err_set(err, -ret, "cannot register %s at %s 0x%llx", t[i].name,
					    bus->name, (unsigned long long)t[i].base);
	}
	return 0;
}

/* What only the PC of --firmware has: the i440FX identity, the PIIX3's ISA bridge in slot 1
 * (where QEMU's is, before any device takes a slot), a keyboard, fw_cfg. */
static int init_pc(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_platform *p = &vm->plat;
	i440fx_init(&p->pci.bridge);
	piix3_init(&p->isa, vmm_vm_set_irq, reset_request, vm);
	i8042_attach_keyboard(&p->i8042,
			      (struct vmm_irq){.set = vmm_vm_set_irq, .ctx = vm, .gsi = KBD_IRQ});
	int ret = fw_cfg_init(&p->fw_cfg, &vm->mem);
	p->pc = true; /* both to destroy, whatever fails next */
	if (ret)
		return host_err_set(err, -ret, "fw_cfg: %s", strerror(-ret));
	ret = pci_host_add(&p->pci, &p->isa.pci, PIIX3_SLOT);
	if (ret < 0)
		return host_err_set(err, -ret, "cannot plug the ISA bridge: %s", strerror(-ret));
	const struct trap_def pio[] = {
		{FW_CFG_PORT, FW_CFG_NR_PORTS, fw_cfg_trap, fw_cfg_trap_rep, &p->fw_cfg, "fw_cfg"},
		{PIIX3_PORT92, 1, piix3_port92_trap, NULL, &p->isa, "port92"},
	};
	const struct trap_def mmio[] = {
		{vmm_firmware_rom_base(vm->firmware_size), vm->firmware_size, rom_write, NULL, NULL,
		 "bios-rom"},
	};
	ret = register_all(&vm->pio, pio, sizeof(pio) / sizeof(pio[0]), err);
	return ret ? ret : register_all(&vm->mmio, mmio, 1, err);
}

int vmm_platform_init(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_platform *p = &vm->plat;
	struct vmm_irq com1_irq = {.set = vmm_vm_set_irq, .ctx = vm, .gsi = GUEST_COM1_IRQ};
	struct vmm_irq rtc_irq = {.set = vmm_vm_set_irq, .ctx = vm, .gsi = GUEST_RTC_IRQ};
	uart_init(&p->com1, com1_irq, vmm_console_tx, vmm_console_rx_room, &vm->con);
	rtc_init(&p->rtc, NULL, vmm_ram_below_4g(vm->ram_size), vmm_ram_above_4g(vm->ram_size));
	i8042_init(&p->i8042, reset_request, vm);
	debug_exit_init(&p->debug_exit, debug_exit_request, vm);
	debugcon_init(&p->debugcon, vmm_console_tx, &vm->debugcon);
	pci_host_init(&p->pci, reset_request, vm);
	p->ready = true;
	p->rtc_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->rtc_timer_fd < 0)
		return host_err_set(err, errno, "timerfd_create: %s", strerror(errno));
	rtc_set_timer(&p->rtc, rtc_irq, arm_rtc_timer, p);

	const struct trap_def pio[] = {
		{GUEST_COM1_PORT, UART_NR_PORTS, uart_trap, NULL, &p->com1, "com1"},
		{GUEST_RTC_PORT, RTC_NR_PORTS, rtc_trap, NULL, &p->rtc, "rtc"},
		{GUEST_I8042_DATA_PORT, I8042_NR_PORTS, i8042_trap, NULL, &p->i8042, "i8042"},
		{GUEST_DEBUG_EXIT_PORT, GUEST_DEBUG_EXIT_SIZE, debug_exit_trap, NULL,
		 &p->debug_exit, "debug-exit"},
		{DEBUGCON_PORT, 1, vm->cfg->debugcon != VMM_SERIAL_OFF ? debugcon_trap : NULL, NULL,
		 &p->debugcon, "debugcon"},
		{PCI_HOST_ADDR_PORT, 4, pci_host_addr_trap, NULL, &p->pci, "pci-address"},
		{PCI_HOST_DATA_PORT, 4, pci_host_data_trap, NULL, &p->pci, "pci-data"},
		{PCI_IO_WINDOW, PCI_IO_WINDOW_END - PCI_IO_WINDOW, pci_host_io_trap, NULL, &p->pci,
		 "pci-io"},
	};
	int ret = register_all(&vm->pio, pio, sizeof(pio) / sizeof(pio[0]), err);
	return !ret && vm->firmware ? init_pc(vm, err) : ret;
}

void vmm_platform_destroy(struct vmm_vm *vm)
{
	struct vmm_platform *p = &vm->plat;
	if (!p->ready)
		return;
	p->ready = false;
	if (p->pc) {
		fw_cfg_destroy(&p->fw_cfg);
		piix3_destroy(&p->isa);
		p->pc = false;
	}
	if (p->rtc_timer_fd >= 0)
		close(p->rtc_timer_fd);
	p->rtc_timer_fd = -1;
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
