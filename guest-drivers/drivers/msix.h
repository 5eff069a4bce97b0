/* SPDX-License-Identifier: MIT */
/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): a table of {address, data, vector control} entries in a
 * memory BAR. Each entry is one message: on x86 a write of the vector to the LAPIC address
 * window, fixed delivery, edge-triggered, physical destination. Register names are Linux's
 * <linux/pci_regs.h>.
 */
#ifndef G_DRIVERS_MSIX_H
#define G_DRIVERS_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/pci.h"

#define G_MSI_ADDR_BASE	      0xfee00000u /* Intel SDM vol. 3A, 11.11.1 */
#define G_MSI_ADDR_DEST_SHIFT 12

struct g_msix {
	const struct g_pci_dev *pci;
	unsigned int cap;  /* config offset of the capability */
	unsigned int size; /* table entries */
	uintptr_t table;   /* mapped table */
};

/* Finds the capability and maps the table; every entry is left masked and MSI-X disabled.
 * -ENODEV without the capability, -EINVAL if the table is not inside its BAR. */
int g_msix_init(struct g_msix *m, const struct g_pci_dev *pci);

/* Points entry at vector on the LAPIC apic_id and unmasks it. -EINVAL beyond the table. */
int g_msix_route(struct g_msix *m, unsigned int entry, unsigned int apic_id, uint8_t vector);
void g_msix_mask(struct g_msix *m, unsigned int entry);

/* Enables MSI-X (which turns the function's INTx off) or disables it. */
void g_msix_enable(struct g_msix *m, bool on);

#endif
