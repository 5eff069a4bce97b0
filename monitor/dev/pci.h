/* SPDX-License-Identifier: MIT */
/*
 * PCI bus 0 behind a host bridge, reached through configuration mechanism #1 (ports 0xCF8 and
 * 0xCFC-0xCFF, PCI Local Bus Specification 3.0, 3.2.2.3.2). Devices register a type-0 config
 * space; what the guest may change is described by per-byte masks, so BAR sizing, command and
 * status behave as on hardware without per-device code.
 */
#ifndef VMMON_DEV_PCI_H
#define VMMON_DEV_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"

#define PCI_SLOTS		32
#define PCI_NR_BARS		6
#define PCI_HOST_ADDR_PORT	0xcf8
#define PCI_HOST_DATA_PORT	0xcfc
#define PCI_CONFIG_ENABLE	0x80000000u
#define PCI_CONFIG_ADDRESS_MASK 0x80fffffcu /* bits 30:24 and 1:0 are reserved */
#define PCI_RCR_OFF		1	    /* 0xCF9: reset control register (PIIX/ICH) */
#define PCI_RCR_SYS_RST		0x02
#define PCI_RCR_RST_CPU		0x04
/* Ports the host bridge forwards to I/O BARs: above every ISA and legacy port. */
#define PCI_IO_WINDOW	  0x1000
#define PCI_IO_WINDOW_END 0x10000

/* The host bridge's identity: the ID Cloud Hypervisor and Firecracker use for the same role, a
 * plain Intel host bridge to which Linux applies no quirks. */
#define PCI_HOST_VENDOR		   0x8086
#define PCI_HOST_DEVICE		   0x0d57
#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000 /* base class bridge, subclass host */

struct pci_dev {
	uint8_t cfg[PCI_CFG_SPACE_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SPACE_SIZE]; /* bits the guest clears by writing 1 */
	uint64_t bar_size[PCI_NR_BARS];
	/* Called after a config write, with the lock of the host held: a device remaps its BARs
	 * or reacts to the command register here. */
	void (*config_written)(struct pci_dev *d, unsigned off, unsigned len);
	/* Called before a config read, with the lock of the host held: a device whose config
	 * bytes are computed (a window onto a BAR) fills them in here. */
	void (*config_read)(struct pci_dev *d, unsigned off, unsigned len);
	/* Accesses to I/O BAR n, relative to it, called with `opaque` (and without the host's
	 * lock) while the command register's I/O bit is on; NULL for a BAR nobody serves. */
	vmm_trap_fn io_trap[PCI_NR_BARS];
	void *opaque;
};

/* Flags for pci_dev_set_bar: combined with the size. */
#define PCI_BAR_MEM32	 0
#define PCI_BAR_IO	 1
#define PCI_BAR_MEM64	 2
#define PCI_BAR_PREFETCH 4

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision);
/* Declares BAR n of `size` bytes (a power of two; 16+ for memory, 4+ for I/O). A 64-bit BAR
 * takes n and n + 1. Returns 0 or -EINVAL. */
int pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size, unsigned flags);
/* The address the guest programmed into BAR n (without the flag bits). */
uint64_t pci_dev_bar_addr(const struct pci_dev *d, unsigned n);
uint32_t pci_dev_cfg_read(struct pci_dev *d, unsigned off, unsigned len);
void pci_dev_cfg_write(struct pci_dev *d, unsigned off, unsigned len, uint32_t val);

struct pci_host {
	pthread_mutex_t lock;
	uint32_t config_address;
	uint8_t rcr;
	void (*reset)(void *ctx); /* 0xCF9 reset request */
	void *ctx;
	struct pci_dev bridge; /* 00:00.0 */
	struct pci_dev *slot[PCI_SLOTS];
};

void pci_host_init(struct pci_host *h, void (*reset)(void *ctx), void *ctx);
void pci_host_destroy(struct pci_host *h);
/* Plugs d into bus 0 at `slot`, or the first free slot if slot < 0. Returns the slot or -errno. */
int pci_host_add(struct pci_host *h, struct pci_dev *d, int slot);
/* The slot d is plugged into, or -ENOENT. */
int pci_host_slot_of(struct pci_host *h, const struct pci_dev *d);
/* Config access by bus/device/function, as both the ports and tests use it. */
uint32_t pci_host_cfg_read(struct pci_host *h, unsigned bus, unsigned dev, unsigned fn,
			   unsigned off, unsigned len);
void pci_host_cfg_write(struct pci_host *h, unsigned bus, unsigned dev, unsigned fn, unsigned off,
			unsigned len, uint32_t val);

/* Bus glue: 0xCF8-0xCFB (address, and the reset control byte at 0xCF9) and 0xCFC-0xCFF. */
int pci_host_addr_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
int pci_host_data_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);
/* Bus glue for ports [PCI_IO_WINDOW, PCI_IO_WINDOW_END): each access goes to the I/O BAR that
 * decodes it, as the guest programmed it, or reads as all ones. One trap over the window
 * rather than one per BAR because the guest moves BARs through ports 0xCF8/0xCFC: moving a
 * port trap from inside a port trap would take the port bus's write lock under its read lock,
 * which deadlocks. */
int pci_host_io_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
