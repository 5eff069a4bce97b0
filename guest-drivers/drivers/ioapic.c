// SPDX-License-Identifier: MIT
#include "drivers/ioapic.h"
#include "lib/errno.h"
#include "lib/io.h"

static uint32_t reg_read(struct g_ioapic *io, uint32_t reg)
{
	g_mmio_write32(io->base + G_IOAPIC_REGSEL, reg);
	return g_mmio_read32(io->base + G_IOAPIC_WINDOW);
}

static void reg_write(struct g_ioapic *io, uint32_t reg, uint32_t v)
{
	g_mmio_write32(io->base + G_IOAPIC_REGSEL, reg);
	g_mmio_write32(io->base + G_IOAPIC_WINDOW, v);
}

/* Writes the high word (destination) before the low word, which holds the mask bit, so the
 * entry is never live with a half-written destination. */
static void rte_write(struct g_ioapic *io, unsigned int pin, uint64_t rte)
{
	g_spin_lock(&io->lock);
	reg_write(io, G_IOAPIC_REG_REDTBL + 2 * pin + 1, rte >> 32);
	reg_write(io, G_IOAPIC_REG_REDTBL + 2 * pin, (uint32_t)rte);
	g_spin_unlock(&io->lock);
}

int g_ioapic_init(struct g_ioapic *io, uintptr_t base, uint8_t id)
{
	uint32_t ver;

	io->base = base;
	io->id = id;
	ver = reg_read(io, G_IOAPIC_REG_VER);
	if (ver == 0xffffffff)
		return -ENODEV; /* nothing decodes the address */
	io->pins = ((ver >> 16) & 0xff) + 1;
	for (unsigned int pin = 0; pin < io->pins; pin++)
		rte_write(io, pin, G_IOAPIC_RTE_MASKED);
	return 0;
}

int g_ioapic_route(struct g_ioapic *io, unsigned int pin, uint8_t vector, uint8_t dest_apic_id,
		   bool level, bool active_low)
{
	uint64_t rte = vector | ((uint64_t)dest_apic_id << G_IOAPIC_RTE_DEST_SHIFT);

	if (pin >= io->pins || vector < 0x20)
		return -EINVAL;
	if (level)
		rte |= G_IOAPIC_RTE_LEVEL;
	if (active_low)
		rte |= G_IOAPIC_RTE_POLARITY_LOW;
	rte_write(io, pin, rte);
	return 0;
}

int g_ioapic_mask(struct g_ioapic *io, unsigned int pin)
{
	if (pin >= io->pins)
		return -EINVAL;
	rte_write(io, pin, G_IOAPIC_RTE_MASKED);
	return 0;
}
