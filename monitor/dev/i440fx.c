/* SPDX-License-Identifier: MIT */
#include "i440fx.h"

#include <string.h>

void i440fx_init(struct pci_dev *d)
{
	pci_dev_init(d, I440FX_VENDOR, I440FX_DEVICE, PCI_CLASS_CODE_HOST_BRIDGE, I440FX_REVISION);
	uint16_t subsys[2] = {QEMU_SUBSYS_VENDOR, QEMU_SUBSYS_ID};
	memcpy(&d->cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys, sizeof(subsys));
	memset(&d->wmask[I440FX_PAM0], 0xff, I440FX_NR_PAM);
}
