/* SPDX-License-Identifier: MIT */
/*
 * A PC firmware image (--firmware): as on a PC with a flash chip, the whole image sits at the
 * top of the 32-bit address space, read-only (vm.c maps it), with the reset vector in its last
 * 16 bytes. What the chipset also shows below 1 MiB is here a copy in guest RAM: the image ends
 * at 0x100000, so a 128 KiB SeaBIOS fills 0xE0000-0xFFFFF and a 256 KiB one 0xC0000-0xFFFFF
 * (only its upper half runs from there before SeaBIOS copies itself; the rest is overwritten
 * or cleared by it). Being RAM, the copy is writable from the start, which is what SeaBIOS asks
 * the i440FX's PAM registers for before it writes its variables; the PAM registers are plain
 * storage (dev/i440fx.h). Each reset copies the image again, so the firmware never finds the
 * state of its previous run (SeaBIOS would take that for a resume).
 */
#include <inttypes.h>
#include <string.h>

#include "../layout.h"
#include "boot.h"

int vmm_firmware_check(size_t size, const char *path, struct host_err *err)
{
	if (size < VMM_FIRMWARE_MIN || size > VMM_FIRMWARE_MAX || size % VMM_FIRMWARE_MIN)
		return host_err_set(err, EINVAL,
				    "--firmware %s: %zu bytes is not a firmware image's size (a "
				    "multiple of 64K up to 256K, as bios.bin and bios-256k.bin)",
				    path, size);
	return 0;
}

uint64_t vmm_firmware_rom_base(size_t size)
{
	return LAYOUT_4G - size;
}

int vmm_firmware_load(struct gmem *mem, const uint8_t *image, size_t size,
		      struct vmm_boot_entry *entry, struct host_err *err)
{
	int ret = vmm_firmware_check(size, "image", err);
	if (ret)
		return ret;
	uint8_t *low = gmem_ptr(mem, LAYOUT_HIGH_RAM - size, size);
	if (!low)
		return host_err_set(err, EFAULT, "the firmware's copy below 1 MiB is not in RAM");
	memcpy(low, image, size);
	*entry = (struct vmm_boot_entry){.mode = VMM_BOOT_RESET};
	return 0;
}
