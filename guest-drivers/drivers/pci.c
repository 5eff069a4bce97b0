// SPDX-License-Identifier: MIT
/*
 * PCI configuration mechanism #1. Each access is an address write then a data access, so one
 * lock keeps CPUs from interleaving them. Under vmmon each port access is an exit, which is why
 * the scan reads a function's header once and keeps it in struct g_pci_dev.
 */
#include <linux/pci_regs.h>

#include "drivers/pci.h"
#include "guest_abi.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "runtime/mem.h"

#define CFG_ENABLE    0x80000000u
#define CAP_WALK_MAX  48 /* 192 bytes of capability space hold at most 48 entries */
#define CLASS_BRIDGE  0x060400
#define MULTIFUNCTION 0x80

static struct g_spinlock cfg_lock;

static uint32_t cfg_addr(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int off)
{
	return CFG_ENABLE | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc);
}

static uint32_t raw_read32(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int off)
{
	uint32_t v;

	g_spin_lock(&cfg_lock);
	g_outl(GUEST_PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, off));
	v = g_inl(GUEST_PCI_CONFIG_DATA);
	g_spin_unlock(&cfg_lock);
	return v;
}

static void raw_write32(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int off,
			uint32_t v)
{
	g_spin_lock(&cfg_lock);
	g_outl(GUEST_PCI_CONFIG_ADDRESS, cfg_addr(bus, dev, fn, off));
	g_outl(GUEST_PCI_CONFIG_DATA, v);
	g_spin_unlock(&cfg_lock);
}

uint32_t g_pci_read32(const struct g_pci_dev *d, unsigned int off)
{
	return raw_read32(d->bus, d->dev, d->fn, off);
}

/* Narrow accesses go through the data port at the byte's offset, as mechanism #1 allows, so no
 * read-modify-write of the neighbouring bytes (some are write-1-to-clear status bits). */
uint8_t g_pci_read8(const struct g_pci_dev *d, unsigned int off)
{
	uint8_t v;

	g_spin_lock(&cfg_lock);
	g_outl(GUEST_PCI_CONFIG_ADDRESS, cfg_addr(d->bus, d->dev, d->fn, off));
	v = g_inb(GUEST_PCI_CONFIG_DATA + (off & 3));
	g_spin_unlock(&cfg_lock);
	return v;
}

uint16_t g_pci_read16(const struct g_pci_dev *d, unsigned int off)
{
	uint16_t v;

	g_spin_lock(&cfg_lock);
	g_outl(GUEST_PCI_CONFIG_ADDRESS, cfg_addr(d->bus, d->dev, d->fn, off));
	v = g_inw(GUEST_PCI_CONFIG_DATA + (off & 2));
	g_spin_unlock(&cfg_lock);
	return v;
}

void g_pci_write16(const struct g_pci_dev *d, unsigned int off, uint16_t v)
{
	g_spin_lock(&cfg_lock);
	g_outl(GUEST_PCI_CONFIG_ADDRESS, cfg_addr(d->bus, d->dev, d->fn, off));
	g_outw(GUEST_PCI_CONFIG_DATA + (off & 2), v);
	g_spin_unlock(&cfg_lock);
}

void g_pci_write32(const struct g_pci_dev *d, unsigned int off, uint32_t v)
{
	raw_write32(d->bus, d->dev, d->fn, off, v);
}

/* Size of a BAR by the usual probe: write all ones, read back which bits stick. Decoding is off
 * meanwhile (the caller saved the command register), so the probe value never claims
 * addresses. */
static uint32_t probe32(const struct g_pci_dev *d, unsigned int off, uint32_t orig)
{
	uint32_t mask;

	g_pci_write32(d, off, 0xffffffff);
	mask = g_pci_read32(d, off);
	g_pci_write32(d, off, orig);
	return mask;
}

/* Decodes BAR i; returns how many BAR registers it took (2 for a 64-bit BAR). */
static unsigned int decode_bar(struct g_pci_dev *d, unsigned int i, unsigned int nbars)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t lo = g_pci_read32(d, off), mask = probe32(d, off, lo);
	struct g_pci_bar *b = &d->bar[i];

	if (!mask || mask == 0xffffffff) /* not implemented, or nothing answers */
		return 1;
	if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
		b->io = true;
		b->addr = lo & PCI_BASE_ADDRESS_IO_MASK;
		b->size = (uint16_t)(~(mask & PCI_BASE_ADDRESS_IO_MASK) + 1);
		return 1;
	}
	b->prefetch = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
	b->addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
	if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64) {
		uint32_t hi, hmask;

		if (i + 1 >= nbars) { /* a 64-bit BAR cannot start in the last slot */
			b->addr = 0;
			return 1;
		}
		hi = g_pci_read32(d, off + 4);
		hmask = probe32(d, off + 4, hi);
		b->mem64 = true;
		b->addr |= (uint64_t)hi << 32;
		b->size = ~(((uint64_t)hmask << 32) | (mask & PCI_BASE_ADDRESS_MEM_MASK)) + 1;
		return 2;
	}
	b->size = (uint32_t)(~(mask & PCI_BASE_ADDRESS_MEM_MASK) + 1);
	return 1;
}

static void decode_bars(struct g_pci_dev *d)
{
	unsigned int nbars = d->header_type == PCI_HEADER_TYPE_NORMAL	? 6
			     : d->header_type == PCI_HEADER_TYPE_BRIDGE ? 2
									: 0;
	uint16_t cmd = g_pci_read16(d, PCI_COMMAND);

	if (!nbars)
		return;
	g_pci_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned int i = 0; i < nbars;)
		i += decode_bar(d, i, nbars);
	g_pci_write16(d, PCI_COMMAND, cmd);
}

void g_pci_scan_start(struct g_pci_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->nbus = 1; /* bus 0 */
}

static void add_bus(struct g_pci_scan *s, uint8_t bus)
{
	for (unsigned int i = 0; i < s->nbus; i++) {
		if (s->bus[i] == bus)
			return; /* a firmware loop, or a bridge not yet numbered (0) */
	}
	if (s->nbus < G_PCI_MAX_BUSES)
		s->bus[s->nbus++] = bus;
}

/* Moves to the next slot: the next function of a multi-function device, else the next device,
 * else the next bus. */
static void advance(struct g_pci_scan *s)
{
	if (s->multi && s->fn < 7) {
		s->fn++;
		return;
	}
	s->fn = 0;
	s->multi = false;
	if (++s->dev == 32) {
		s->dev = 0;
		s->cur++;
	}
}

static void fill(struct g_pci_dev *d, unsigned int bus, unsigned int dev, unsigned int fn,
		 uint32_t id, uint8_t header)
{
	memset(d, 0, sizeof(*d));
	d->bus = (uint8_t)bus;
	d->dev = (uint8_t)dev;
	d->fn = (uint8_t)fn;
	d->vendor = (uint16_t)id;
	d->device = (uint16_t)(id >> 16);
	d->header_type = header & PCI_HEADER_TYPE_MASK;
	d->class_code = g_pci_read32(d, PCI_CLASS_REVISION) >> 8;
	d->irq_line = g_pci_read8(d, PCI_INTERRUPT_LINE);
	d->irq_pin = g_pci_read8(d, PCI_INTERRUPT_PIN);
	decode_bars(d);
}

int g_pci_scan_next(struct g_pci_scan *s, struct g_pci_dev *d)
{
	while (s->cur < s->nbus) {
		unsigned int bus = s->bus[s->cur], dev = s->dev, fn = s->fn;
		uint32_t id = raw_read32(bus, dev, fn, PCI_VENDOR_ID);
		uint8_t header;

		if ((id & 0xffff) ==
		    0xffff) { /* nothing there; function 0 absent means no device */
			advance(s);
			continue;
		}
		header = (uint8_t)(raw_read32(bus, dev, fn, PCI_HEADER_TYPE & ~3u) >> 16);
		if (fn == 0)
			s->multi = header & MULTIFUNCTION;
		advance(s);
		fill(d, bus, dev, fn, id, header);
		if (d->header_type == PCI_HEADER_TYPE_BRIDGE && d->class_code == CLASS_BRIDGE)
			add_bus(s, g_pci_read8(d, PCI_SECONDARY_BUS));
		return 0;
	}
	return -ENOENT;
}

unsigned int g_pci_find_cap(const struct g_pci_dev *d, uint8_t id, unsigned int after)
{
	unsigned int off;

	if (!(g_pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	off = after ? g_pci_read8(d, after + PCI_CAP_LIST_NEXT)
		    : g_pci_read8(d, PCI_CAPABILITY_LIST);
	for (int n = 0; n < CAP_WALK_MAX && off >= 0x40; n++) {
		off &= ~3u; /* the low two bits are reserved */
		if (g_pci_read8(d, off + PCI_CAP_LIST_ID) == id)
			return off;
		off = g_pci_read8(d, off + PCI_CAP_LIST_NEXT);
	}
	return 0;
}

void g_pci_command(const struct g_pci_dev *d, uint16_t bits, bool on)
{
	uint16_t cmd = g_pci_read16(d, PCI_COMMAND);

	g_pci_write16(d, PCI_COMMAND, on ? cmd | bits : cmd & ~bits);
}

void *g_pci_bar_map(const struct g_pci_dev *d, unsigned int bar, uint64_t off, uint64_t len)
{
	const struct g_pci_bar *b;

	if (bar >= G_PCI_BARS)
		return NULL;
	b = &d->bar[bar];
	if (b->io || !b->addr || off > b->size || len > b->size - off)
		return NULL;
	return g_mmio_map(b->addr + off, len);
}
