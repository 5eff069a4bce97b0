/* SPDX-License-Identifier: MIT */
/*
 * What vmmon tells a PC firmware (--firmware), through fw_cfg and the CMOS as QEMU tells SeaBIOS:
 *   - the memory map, fw_cfg "etc/e820": RAM below the 32-bit hole and above 4 GiB, and KVM's
 *     real-mode identity map and TSS reserved; the firmware reserves its own areas (EBDA,
 *     0xF0000-0xFFFFF, its tables). The CMOS memory-size bytes (rtc.c) say the same;
 *   - the CPUs: FW_CFG_NB_CPUS, FW_CFG_MAX_CPUS and CMOS 0x5F;
 *   - the boot order: fw_cfg "bootorder" names the boot disk (--disk ...,boot=on, or the first
 *     --disk) by the OpenFirmware path SeaBIOS builds for it; CMOS 0x3D/0x38 put hard disks
 *     first and skip the floppy check for every other disk;
 *   - the console, "etc/sercon-port": COM1, where SeaBIOS then draws its text screen;
 *   - no boot menu (FW_CFG_BOOT_MENU 0), no retry after a failed boot ("etc/boot-fail-wait"
 *     -1, as QEMU's default), no IRQ0 override: KVM's PIT raises GSI 0, I/O APIC pin 0.
 * fw_cfg keys nobody set (UUID, ACPI and SMBIOS tables, NUMA) read as zeros: SeaBIOS then
 * builds its own MP table, $PIR and SMBIOS tables, and no ACPI tables (it builds those only
 * for a PIIX4 power-management function, which vmmon leaves out).
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "dev/ata/piix.h"
#include "layout.h"
#include "platform.h"
#include "vm.h"

/* SeaBIOS's root for devices on bus 0 behind the 0xCF8 host bridge. */
#define PCI_ROOT "/pci@i0cf8"

/* The boot disk's path as SeaBIOS's bootprio_find_*_device compares it (its glob takes any
 * device name before '@'): ATA "/pci@i0cf8/ide@S/drive@CHANNEL/disk@UNIT", virtio-blk
 * "/pci@i0cf8/scsi@S/disk@0,0" (what QEMU writes for both). "" with no disk to name. */
static int boot_path(struct vmm_vm *vm, char *buf, size_t size, struct host_err *err)
{
	const struct vmm_config *cfg = vm->cfg;
	buf[0] = 0;
	if (!cfg->nr_disks)
		return 0;
	unsigned b = 0;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (cfg->disks[i].boot)
			b = i;
	const struct vmm_disk_config *d = &cfg->disks[b];
	int slot = -ENOENT;
	if (d->transport == VMM_TRANSPORT_ATA) {
		unsigned pos = 0; /* primary master, primary slave, secondary master, ... */
		for (unsigned i = 0; i < b; i++)
			pos += cfg->disks[i].transport == VMM_TRANSPORT_ATA;
		if (vm->devs.ide)
			slot = pci_host_slot_of(&vm->plat.pci, &vm->devs.ide->pci);
		if (slot >= 0)
			snprintf(buf, size, PCI_ROOT "/ide@%x/drive@%x/disk@%x", (unsigned)slot,
				 pos / 2, pos % 2);
	} else {
		for (unsigned k = 0; k < vm->devs.nr && slot < 0; k++)
			if (vm->devs.slot[k].disk == d && vm->devs.slot[k].pci)
				slot = pci_host_slot_of(&vm->plat.pci,
							&vm->devs.slot[k].pci->regs.pci);
		if (slot >= 0)
			snprintf(buf, size, PCI_ROOT "/scsi@%x/disk@0,0", (unsigned)slot);
	}
	return slot < 0 ? host_err_set(err, ENODEV, "the boot disk is on no PCI slot") : 0;
}

/* RAM as the memory slots hold it, and KVM's pages the OS must keep away from. */
static unsigned memory_map(const struct vmm_vm *vm, struct boot_e820_entry *e)
{
	unsigned n = 0;
	e[n++] = (struct boot_e820_entry){0, vmm_ram_below_4g(vm->ram_size), VMM_E820_RAM};
	if (vmm_ram_above_4g(vm->ram_size))
		e[n++] = (struct boot_e820_entry){LAYOUT_4G, vmm_ram_above_4g(vm->ram_size),
						  VMM_E820_RAM};
	e[n++] = (struct boot_e820_entry){LAYOUT_KVM_IDENTITY_MAP,
					  LAYOUT_KVM_REALMODE_END - LAYOUT_KVM_IDENTITY_MAP,
					  VMM_E820_RESERVED};
	for (unsigned i = 0; i < n; i++) {
		e[i].addr = htole64(e[i].addr);
		e[i].size = htole64(e[i].size);
		e[i].type = htole32(e[i].type);
	}
	return n;
}

int vmm_platform_firmware(struct vmm_vm *vm, struct host_err *err)
{
	struct fw_cfg *c = &vm->plat.fw_cfg;
	uint16_t cpus = htole16((uint16_t)vm->nr_vcpus), menu = 0;
	uint16_t sercon = htole16(GUEST_COM1_PORT);
	uint32_t fail_wait = htole32(UINT32_MAX);
	uint8_t irq0_override = 0;
	struct boot_e820_entry e820[3];
	unsigned n = memory_map(vm, e820);
	char boot[96];
	int ret = boot_path(vm, boot, sizeof(boot), err);
	if (ret)
		return ret;
	if (!ret)
		ret = fw_cfg_add(c, FW_CFG_NB_CPUS, &cpus, sizeof(cpus));
	if (!ret)
		ret = fw_cfg_add(c, FW_CFG_MAX_CPUS, &cpus, sizeof(cpus));
	if (!ret)
		ret = fw_cfg_add(c, FW_CFG_BOOT_MENU, &menu, sizeof(menu));
	if (!ret)
		ret = fw_cfg_add(c, FW_CFG_IRQ0_OVERRIDE, &irq0_override, sizeof(irq0_override));
	if (!ret)
		ret = fw_cfg_add_file(c, "etc/e820", e820, (uint32_t)(n * sizeof(e820[0])));
	if (ret >= 0 && boot[0])
		ret = fw_cfg_add_file(c, "bootorder", boot, (uint32_t)strlen(boot));
	if (ret >= 0)
		ret = fw_cfg_add_file(c, "etc/sercon-port", &sercon, sizeof(sercon));
	if (ret >= 0)
		ret = fw_cfg_add_file(c, "etc/boot-fail-wait", &fail_wait, sizeof(fail_wait));
	if (ret < 0)
		return host_err_set(err, -ret, "fw_cfg: %s", strerror(-ret));
	struct rtc *rtc = &vm->plat.rtc;
	rtc_cmos_set(rtc, RTC_CMOS_SMP_COUNT, (uint8_t)(vm->nr_vcpus - 1));
	rtc_cmos_set(rtc, RTC_CMOS_BOOT_ORDER, RTC_BOOT_DISK);
	rtc_cmos_set(rtc, RTC_CMOS_BOOT_ORDER_3, 0x01); /* no third device; no floppy check */
	return 0;
}
