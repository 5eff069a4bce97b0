/* SPDX-License-Identifier: MIT */
#include "pci.h"

#include <errno.h>
#include <string.h>

/* Command bits a plain device implements: I/O, memory, bus master, parity, SERR, INTx off. */
#define COMMAND_WMASK                                                                              \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Error bits of the status register, cleared by writing 1. */
#define STATUS_W1C                                                                                 \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static void put(uint8_t *p, unsigned off, unsigned len, uint32_t val)
{
	for (unsigned i = 0; i < len; i++)
		p[off + i] = (uint8_t)(val >> (8 * i));
}

static uint32_t get(const uint8_t *p, unsigned off, unsigned len)
{
	uint32_t val = 0;
	for (unsigned i = 0; i < len; i++)
		val |= (uint32_t)p[off + i] << (8 * i);
	return val;
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision)
{
	memset(d, 0, sizeof(*d));
	put(d->cfg, PCI_VENDOR_ID, 2, vendor);
	put(d->cfg, PCI_DEVICE_ID, 2, device);
	put(d->cfg, PCI_CLASS_REVISION, 4, class_code << 8 | revision);
	d->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	put(d->wmask, PCI_COMMAND, 2, COMMAND_WMASK);
	put(d->w1cmask, PCI_STATUS, 2, STATUS_W1C);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size, unsigned flags)
{
	bool io = flags & PCI_BAR_IO, wide = flags & PCI_BAR_MEM64;
	if (n >= PCI_NR_BARS || (wide && (io || n + 1 >= PCI_NR_BARS)) || !is_pow2(size) ||
	    size < (io ? 4u : 16u) || (io && size > 256) || (!wide && !io && size > 1ull << 31))
		return -EINVAL;
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * n;
	uint32_t low_flags = io ? PCI_BASE_ADDRESS_SPACE_IO : PCI_BASE_ADDRESS_SPACE_MEMORY;
	if (wide)
		low_flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
	if (!io && (flags & PCI_BAR_PREFETCH))
		low_flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	uint64_t mask = ~(size - 1);
	put(d->cfg, off, 4, low_flags);
	/* Sizing works by the mask alone: writing all ones reads back ~(size - 1) | flags. */
	put(d->wmask, off, 4, (uint32_t)mask & (io ? ~0x3u : ~0xfu));
	if (wide) {
		put(d->cfg, off + 4, 4, 0);
		put(d->wmask, off + 4, 4, (uint32_t)(mask >> 32));
	}
	d->bar_size[n] = size;
	return 0;
}

uint64_t pci_dev_bar_addr(const struct pci_dev *d, unsigned n)
{
	if (n >= PCI_NR_BARS || !d->bar_size[n])
		return 0;
	uint32_t low = get(d->cfg, PCI_BASE_ADDRESS_0 + 4 * n, 4);
	if (low & PCI_BASE_ADDRESS_SPACE_IO)
		return low & PCI_BASE_ADDRESS_IO_MASK;
	uint64_t addr = low & PCI_BASE_ADDRESS_MEM_MASK;
	if (low & PCI_BASE_ADDRESS_MEM_TYPE_64)
		addr |= (uint64_t)get(d->cfg, PCI_BASE_ADDRESS_0 + 4 * (n + 1), 4) << 32;
	return addr;
}

uint32_t pci_dev_cfg_read(struct pci_dev *d, unsigned off, unsigned len)
{
	if (d->config_read)
		d->config_read(d, off, len);
	return get(d->cfg, off, len);
}

void pci_dev_cfg_write(struct pci_dev *d, unsigned off, unsigned len, uint32_t val)
{
	for (unsigned i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i)), at = (uint8_t)(off + i);
		uint8_t w = d->wmask[at], c = d->w1cmask[at];
		d->cfg[at] = (uint8_t)((d->cfg[at] & ~w) | (b & w));
		d->cfg[at] &= (uint8_t) ~(b & c);
	}
	if (d->config_written)
		d->config_written(d, off, len);
}

void pci_host_init(struct pci_host *h, void (*reset)(void *), void *ctx)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->reset = reset;
	h->ctx = ctx;
	pci_dev_init(&h->bridge, PCI_HOST_VENDOR, PCI_HOST_DEVICE, PCI_CLASS_CODE_HOST_BRIDGE, 0);
	h->slot[0] = &h->bridge;
}

void pci_host_destroy(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, struct pci_dev *d, int slot)
{
	int ret = -ENOSPC;
	if (slot >= PCI_SLOTS)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (slot >= 0) {
		ret = h->slot[slot] ? -EBUSY : slot;
	} else {
		for (int i = 0; i < PCI_SLOTS && ret < 0; i++)
			if (!h->slot[i])
				ret = i;
	}
	if (ret >= 0)
		h->slot[ret] = d;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int pci_host_slot_of(struct pci_host *h, const struct pci_dev *d)
{
	int ret = -ENOENT;
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < PCI_SLOTS && ret < 0; i++)
		if (h->slot[i] == d)
			ret = i;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static struct pci_dev *lookup(struct pci_host *h, unsigned bus, unsigned dev, unsigned fn)
{
	/* Only bus 0 and single-function devices exist. */
	if (bus != 0 || fn != 0 || dev >= PCI_SLOTS)
		return NULL;
	return h->slot[dev];
}

/* Any access inside one config dword is a config cycle (a word at 0xCFD included). */
static bool access_ok(unsigned off, unsigned len)
{
	return (len == 1 || len == 2 || len == 4) && off < PCI_CFG_SPACE_SIZE &&
	       (off & 3) + len <= 4;
}

uint32_t pci_host_cfg_read(struct pci_host *h, unsigned bus, unsigned dev, unsigned fn,
			   unsigned off, unsigned len)
{
	uint32_t val = 0xffffffffu >> (32 - 8 * len);
	if (!access_ok(off, len))
		return val;
	pthread_mutex_lock(&h->lock);
	struct pci_dev *d = lookup(h, bus, dev, fn);
	if (d) /* an empty slot reads as all ones: a master abort */
		val = pci_dev_cfg_read(d, off, len);
	pthread_mutex_unlock(&h->lock);
	return val;
}

void pci_host_cfg_write(struct pci_host *h, unsigned bus, unsigned dev, unsigned fn, unsigned off,
			unsigned len, uint32_t val)
{
	if (!access_ok(off, len))
		return;
	pthread_mutex_lock(&h->lock);
	struct pci_dev *d = lookup(h, bus, dev, fn);
	if (d)
		pci_dev_cfg_write(d, off, len, val);
	pthread_mutex_unlock(&h->lock);
}

int pci_host_addr_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = dev;
	bool reset = false;
	if (off == 0 && len == 4) {
		/* Only a whole-dword access reaches CONFIG_ADDRESS (spec 3.2.2.3.2). */
		pthread_mutex_lock(&h->lock);
		if (is_write) {
			memcpy(&h->config_address, data, 4);
			h->config_address &= PCI_CONFIG_ADDRESS_MASK; /* reserved bits read 0 */
		} else {
			memcpy(data, &h->config_address, 4);
		}
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	if (off != PCI_RCR_OFF || len != 1)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (is_write) {
		/* RST_CPU going from 0 to 1 resets the machine. */
		reset = (data[0] & PCI_RCR_RST_CPU) && !(h->rcr & PCI_RCR_RST_CPU);
		h->rcr = data[0] & (PCI_RCR_SYS_RST | PCI_RCR_RST_CPU);
	} else {
		data[0] = h->rcr;
	}
	pthread_mutex_unlock(&h->lock);
	if (reset && h->reset)
		h->reset(h->ctx);
	return 0;
}

int pci_host_data_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = dev;
	pthread_mutex_lock(&h->lock);
	uint32_t addr = h->config_address;
	pthread_mutex_unlock(&h->lock);
	if (!(addr & PCI_CONFIG_ENABLE) || off + len > 4)
		return -EINVAL; /* not a config cycle: nothing answers */
	unsigned bus = (addr >> 16) & 0xff, slot = (addr >> 11) & 0x1f, fn = (addr >> 8) & 0x7;
	unsigned reg = (addr & 0xfc) + (unsigned)off;
	if (is_write) {
		uint32_t val = 0;
		memcpy(&val, data, len);
		pci_host_cfg_write(h, bus, slot, fn, reg, len, val);
	} else {
		uint32_t val = pci_host_cfg_read(h, bus, slot, fn, reg, len);
		memcpy(data, &val, len);
	}
	return 0;
}

/* The I/O BAR of some function that holds [port, port + len), or NULL. Host lock held. */
static struct pci_dev *io_decoder(struct pci_host *h, uint64_t port, unsigned len, unsigned *bar,
				  uint64_t *off)
{
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		struct pci_dev *d = h->slot[s];
		if (!d || !(get(d->cfg, PCI_COMMAND, 2) & PCI_COMMAND_IO))
			continue;
		for (unsigned n = 0; n < PCI_NR_BARS; n++) {
			uint64_t base = pci_dev_bar_addr(d, n), size = d->bar_size[n];
			if (!d->io_trap[n] || !base || port < base || port - base >= size ||
			    len > size - (port - base))
				continue;
			*bar = n;
			*off = port - base;
			return d;
		}
	}
	return NULL;
}

int pci_host_io_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = dev;
	unsigned bar = 0;
	uint64_t at = 0;
	pthread_mutex_lock(&h->lock);
	struct pci_dev *d = io_decoder(h, PCI_IO_WINDOW + off, len, &bar, &at);
	vmm_trap_fn fn = d ? d->io_trap[bar] : NULL;
	void *opaque = d ? d->opaque : NULL;
	pthread_mutex_unlock(&h->lock);
	/* Outside the lock: the device takes its own, and may be slow (it is never freed while
	 * vCPUs run). */
	return fn ? fn(opaque, at, data, len, is_write) : -ENOENT;
}
