// SPDX-License-Identifier: MIT
#include <linux/pci_regs.h>

#include "drivers/msix.h"
#include "lib/errno.h"
#include "lib/io.h"

static uintptr_t entry_addr(struct g_msix *m, unsigned int entry, unsigned int reg)
{
	return m->table + entry * PCI_MSIX_ENTRY_SIZE + reg;
}

int g_msix_init(struct g_msix *m, const struct g_pci_dev *pci)
{
	uint32_t table;
	uint16_t flags;
	void *p;

	m->pci = pci;
	m->cap = g_pci_find_cap(pci, PCI_CAP_ID_MSIX, 0);
	if (!m->cap)
		return -ENODEV;
	flags = g_pci_read16(pci, m->cap + PCI_MSIX_FLAGS);
	m->size = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
	table = g_pci_read32(pci, m->cap + PCI_MSIX_TABLE);
	p = g_pci_bar_map(pci, table & PCI_MSIX_TABLE_BIR, table & PCI_MSIX_TABLE_OFFSET,
			  (uint64_t)m->size * PCI_MSIX_ENTRY_SIZE);
	if (!p)
		return -EINVAL;
	m->table = (uintptr_t)p;
	/* Disabled with the function masked while the entries are set up (6.8.2.3). */
	g_pci_write16(pci, m->cap + PCI_MSIX_FLAGS,
		      (flags & ~PCI_MSIX_FLAGS_ENABLE) | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int i = 0; i < m->size; i++)
		g_msix_mask(m, i);
	return 0;
}

int g_msix_route(struct g_msix *m, unsigned int entry, unsigned int apic_id, uint8_t vector)
{
	if (entry >= m->size)
		return -EINVAL;
	/* Masked while the address and data change, so no message goes out half-written. */
	g_msix_mask(m, entry);
	g_mmio_write32(entry_addr(m, entry, PCI_MSIX_ENTRY_LOWER_ADDR),
		       G_MSI_ADDR_BASE | (apic_id << G_MSI_ADDR_DEST_SHIFT));
	g_mmio_write32(entry_addr(m, entry, PCI_MSIX_ENTRY_UPPER_ADDR), 0);
	g_mmio_write32(entry_addr(m, entry, PCI_MSIX_ENTRY_DATA), vector); /* fixed, edge */
	g_mmio_write32(entry_addr(m, entry, PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
	return 0;
}

void g_msix_mask(struct g_msix *m, unsigned int entry)
{
	if (entry < m->size)
		g_mmio_write32(entry_addr(m, entry, PCI_MSIX_ENTRY_VECTOR_CTRL),
			       PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

void g_msix_enable(struct g_msix *m, bool on)
{
	uint16_t flags = g_pci_read16(m->pci, m->cap + PCI_MSIX_FLAGS);

	flags &= ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	g_pci_write16(m->pci, m->cap + PCI_MSIX_FLAGS, on ? flags | PCI_MSIX_FLAGS_ENABLE : flags);
}
