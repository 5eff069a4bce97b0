/* SPDX-License-Identifier: MIT */
/*
 * The PIIX IDE function end to end without KVM: its PCI config space behind a host bridge, its
 * legacy ports and BAR4 on a real port bus, real disk files and vmmon's real I/O thread running
 * the block engine. Data moves by PIO (rep insw/outsw bursts through vmm_bus_access_rep) and by
 * DMA through a PRD table in fake guest RAM, and is checked in the files; a write-through write
 * whose flush the I/O thread starts itself ends; a read-only disk
 * refuses writes; the secondary channel answers on its own ports and IRQ 15; a channel without
 * drives reads as absent.
 *
 * With the optimisations (opt=all) on a fake KVM: the fake takes the zones and ioeventfds vmmon
 * registers, and plays the guest's writes as KVM would (a datamatched write signals its
 * eventfd, a write in a zone goes to the coalesced ring, anything else exits: vmmon's sync,
 * then the bus). The command doorbells sit on exactly the values ata_db_find names and follow
 * BAR4; a DMA command runs with its command byte and start swallowed, applied before the next
 * exit on the channel's ports or the PCI data port, or by the I/O thread with no exit at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/ata/piix.h"
#include "host/util.h"

#define BM_PORT	  0xc000
#define DISK_SIZE (1u << 20)
#define RAM_GPA	  0x100000ull
#define RAM_SIZE  (1u << 20)
#define TABLE	  (RAM_GPA + 0x10000)
#define BUF	  (RAM_GPA + 0x20000)
#define PRI	  0x1f0
#define SEC	  0x170

struct fixture {
	struct vmm_bus pio;
	struct vmm_io io;
	struct pci_host host;
	int slot;
	struct piix_ide ide;
	uint8_t *ram;
	struct gmem mem;
	char path[3][64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned rises[16];
	bool level[16];
	/* opt=all: the coalesce module on a fake ring, and the fake KVM's registrations. */
	struct vmm_coalesce c;
	struct kvm_coalesced_mmio_ring *ring;
	struct fake_efd {
		uint32_t port;
		unsigned len;
		uint64_t val;
		int fd;
	} efd[32];
	unsigned nefd;
	uint32_t zone[16][2];
	unsigned nzone;
	unsigned swallowed, coalesced, exits; /* the guest's writes, as KVM took them */
};

#define RING_MAX 64

static int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct fixture *f = ctx;
	assert_true(gsi == 14 || gsi == 15);
	pthread_mutex_lock(&f->lock);
	if (level && !f->level[gsi])
		f->rises[gsi]++;
	f->level[gsi] = level;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Waits until IRQ gsi has risen `n` times in all (the I/O thread raises it). */
static void wait_irq(struct fixture *f, unsigned gsi, unsigned n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&f->lock);
	while (f->rises[gsi] < n)
		if (pthread_cond_timedwait(&f->cond, &f->lock, &dl) == ETIMEDOUT)
			fail_msg("IRQ %u: %u interrupts, waited for %u", gsi, f->rises[gsi], n);
	pthread_mutex_unlock(&f->lock);
}

static uint8_t file_byte(unsigned disk, uint64_t off)
{
	return (uint8_t)(off * 13 + (off >> 9) + disk * 77);
}

static void make_disk(struct fixture *f, unsigned i)
{
	snprintf(f->path[i], sizeof(f->path[i]), "/tmp/vmmon-piix-XXXXXX");
	int fd = mkstemp(f->path[i]);
	assert_true(fd >= 0);
	uint8_t *b = malloc(DISK_SIZE);
	for (uint64_t k = 0; k < DISK_SIZE; k++)
		b[k] = file_byte(i, k);
	assert_int_equal(write(fd, b, DISK_SIZE), DISK_SIZE);
	free(b);
	close(fd);
}

/* The fake KVM: KVM_IOEVENTFD (datamatched PIO only) and the coalesced zones. */
static int fake_kvm(struct vmm_coalesce *c, unsigned long req, void *arg)
{
	struct fixture *f = c->kvm_ctx;
	if (req == KVM_IOEVENTFD) {
		const struct kvm_ioeventfd *e = arg;
		assert_int_equal(e->flags & ~KVM_IOEVENTFD_FLAG_DEASSIGN,
				 KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH);
		for (unsigned i = 0; i < f->nefd; i++) {
			struct fake_efd *x = &f->efd[i];
			if (x->port != e->addr || x->len != e->len || x->val != e->datamatch)
				continue;
			if (!(e->flags & KVM_IOEVENTFD_FLAG_DEASSIGN))
				return -EEXIST;
			*x = f->efd[--f->nefd];
			return 0;
		}
		if (e->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
			return -ENOENT;
		assert_true(f->nefd < 32);
		f->efd[f->nefd++] =
			(struct fake_efd){(uint32_t)e->addr, e->len, e->datamatch, e->fd};
		return 0;
	}
	const struct kvm_coalesced_mmio_zone *z = arg;
	assert_int_equal(z->pio, 1);
	if (req == KVM_REGISTER_COALESCED_MMIO) {
		assert_true(f->nzone < 16);
		f->zone[f->nzone][0] = (uint32_t)z->addr;
		f->zone[f->nzone++][1] = z->size;
		return 0;
	}
	assert_int_equal(req, KVM_UNREGISTER_COALESCED_MMIO);
	for (unsigned i = 0; i < f->nzone; i++)
		if (f->zone[i][0] == z->addr && f->zone[i][1] == z->size) {
			memcpy(f->zone[i], f->zone[--f->nzone], sizeof(f->zone[i]));
			return 0;
		}
	return -ENOENT;
}

static void drain_ring(void *ctx)
{
	vmm_coalesce_sync(ctx, 0);
}

static int setup_with(void **state, bool opt)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct host_err err = {0};
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->ram = calloc(1, RAM_SIZE);
	gmem_init(&f->mem);
	assert_int_equal(gmem_add(&f->mem, RAM_GPA, RAM_SIZE, f->ram, -1, 0), 0);
	assert_int_equal(vmm_bus_init(&f->pio, "pio"), 0);
	int ret = vmm_io_init(&f->io, 64, &err);
	if (ret == -EPERM || ret == -ENOSYS) {
		fprintf(stderr, "SKIP: io_uring refused here: %s\n", err.msg);
		exit(77);
	}
	assert_int_equal(ret, 0);
	pci_host_init(&f->host, NULL, NULL);
	/* I/O BARs decode through the host's port window, as in vmmon. */
	assert_int_equal(vmm_bus_register(&f->pio, PCI_IO_WINDOW, PCI_IO_WINDOW_END - PCI_IO_WINDOW,
					  pci_host_io_trap, &f->host, "pci-io"),
			 0);
	assert_int_equal(vmm_bus_register(&f->pio, PCI_HOST_DATA_PORT, 4, pci_host_data_trap,
					  &f->host, "pci-data"),
			 0);
	assert_int_equal(vmm_bus_register(&f->pio, PCI_HOST_DATA_PORT - 4, 4, pci_host_addr_trap,
					  &f->host, "pci-address"),
			 0);
	if (opt) {
		vmm_coalesce_init(&f->c, -1, &f->pio, NULL);
		f->c.kvm_ioctl = fake_kvm;
		f->c.kvm_ctx = f;
		f->ring =
			calloc(1, sizeof(*f->ring) + RING_MAX * sizeof(f->ring->coalesced_mmio[0]));
		f->c.ring = f->ring;
		f->c.max = RING_MAX;
		f->io.before_batch = drain_ring;
		f->io.before_ctx = &f->c;
	}
	assert_int_equal(piix_ide_init(&f->ide, &f->pio, &f->io, &f->mem, fake_irq, f, BM_PORT,
				       opt ? &f->c : NULL, &err),
			 0);
	/* Primary master, primary slave (read-only), secondary master. */
	for (unsigned i = 0; i < 3; i++) {
		make_disk(f, i);
		struct host_blk_opts o = {.path = f->path[i], .readonly = i == 1, .queues = 1};
		assert_int_equal(piix_ide_add_disk(&f->ide, &o, opt ? VMM_ATA_OPT_ALL : 0, &err),
				 0);
	}
	f->slot = pci_host_add(&f->host, &f->ide.pci, -1);
	assert_true(f->slot > 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	setup_with(state, false);
	struct fixture *f = *state;
	assert_int_equal(vmm_io_start(&f->io), 0);
	return 0;
}

/* The I/O thread is the test's to start. */
static int setup_opt(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vmm_io_destroy(&f->io);
	piix_ide_destroy(&f->ide);
	pci_host_destroy(&f->host);
	vmm_bus_destroy(&f->pio);
	for (unsigned i = 0; i < 3; i++)
		unlink(f->path[i]);
	if (f->ring)
		vmm_coalesce_destroy(&f->c);
	free(f->ring);
	free(f->ram);
	free(f);
	return 0;
}

static uint32_t cfg_rd(struct fixture *f, unsigned off, unsigned len)
{
	return pci_host_cfg_read(&f->host, 0, (unsigned)f->slot, 0, off, len);
}

static void cfg_wr(struct fixture *f, unsigned off, unsigned len, uint32_t v)
{
	pci_host_cfg_write(&f->host, 0, (unsigned)f->slot, 0, off, len, v);
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint8_t v = 0;
	vmm_bus_access(&f->pio, port, &v, 1, false);
	return v;
}

static void outb(struct fixture *f, uint16_t port, uint8_t v)
{
	vmm_bus_access(&f->pio, port, &v, 1, true);
}

static void outl(struct fixture *f, uint16_t port, uint32_t v)
{
	vmm_bus_access(&f->pio, port, (uint8_t *)&v, 4, true);
}

static void lba28(struct fixture *f, uint16_t base, unsigned unit, uint32_t lba, uint8_t n)
{
	outb(f, base + ATA_REG_DEVICE, (uint8_t)(0xe0 | (unit << 4)));
	outb(f, base + ATA_REG_NSECT, n);
	outb(f, base + ATA_REG_LBAL, (uint8_t)lba);
	outb(f, base + ATA_REG_LBAM, (uint8_t)(lba >> 8));
	outb(f, base + ATA_REG_LBAH, (uint8_t)(lba >> 16));
}

static void file_read(struct fixture *f, unsigned disk, uint64_t off, void *buf, size_t n)
{
	int fd = open(f->path[disk], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void test_pci_function(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x70108086);
	assert_int_equal(cfg_rd(f, PCI_CLASS_REVISION, 4), 0x01018000);
	assert_int_equal(cfg_rd(f, PCI_INTERRUPT_PIN, 1), 0); /* legacy IRQs 14 and 15 */
	assert_int_equal(cfg_rd(f, PIIX_IDETIM, 2), PIIX_IDETIM_DECODE);
	assert_int_equal(cfg_rd(f, PIIX_IDETIM + 2, 2), PIIX_IDETIM_DECODE);
	unsigned bar4 = PCI_BASE_ADDRESS_0 + 4 * PIIX_IDE_BAR;
	assert_int_equal(cfg_rd(f, bar4, 4), BM_PORT | PCI_BASE_ADDRESS_SPACE_IO);
	/* BAR4 decodes only with I/O enabled in the command register. */
	uint8_t v = 0;
	assert_int_equal(vmm_bus_access(&f->pio, BM_PORT + ATA_DMA_STATUS, &v, 1, false), -ENOENT);
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	assert_int_equal(vmm_bus_access(&f->pio, BM_PORT + ATA_DMA_STATUS, &v, 1, false), 0);
	/* Sizing: 16 bytes of I/O. */
	cfg_wr(f, PCI_COMMAND, 2, 0);
	cfg_wr(f, bar4, 4, 0xffffffff);
	assert_int_equal(cfg_rd(f, bar4, 4), 0xfffffff1);
	cfg_wr(f, bar4, 4, 0xd000);
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	assert_int_equal(vmm_bus_access(&f->pio, BM_PORT, &v, 1, false), -ENOENT);
	assert_int_equal(vmm_bus_access(&f->pio, 0xd000 + 8 + ATA_DMA_STATUS, &v, 1, false), 0);
	cfg_wr(f, bar4, 4, BM_PORT);
	/* The timing registers take writes (Linux's ata_piix programs them). */
	cfg_wr(f, PIIX_IDETIM, 2, 0xa307);
	assert_int_equal(cfg_rd(f, PIIX_IDETIM, 2), 0xa307);
}

static void test_legacy_ports(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	assert_int_equal(inb(f, 0x3f6), ATA_DRDY | ATA_DSC);
	assert_int_equal(inb(f, SEC + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	/* The secondary slave is absent: status 0. */
	outb(f, SEC + ATA_REG_DEVICE, 0xb0);
	assert_int_equal(inb(f, SEC + ATA_REG_STATUS), 0);
	assert_int_equal(inb(f, 0x376), 0);
	outb(f, SEC + ATA_REG_DEVICE, 0xa0);
}

static void test_pio_through_the_engine(void **state)
{
	struct fixture *f = *state;
	uint16_t id[256];
	unsigned irqs = f->rises[14];
	outb(f, PRI + ATA_REG_DEVICE, 0xa0);
	outb(f, PRI + ATA_REG_STATUS, WIN_IDENTIFY);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC | ATA_DRQ);
	assert_int_equal(vmm_bus_access_rep(&f->pio, PRI, (uint8_t *)id, 2, 256, false), 0);
	assert_int_equal(id[60], DISK_SIZE / ATA_SECTOR);
	assert_int_equal(id[100], DISK_SIZE / ATA_SECTOR);

	/* WRITE SECTORS: two blocks, each a rep outsw; an interrupt after each. */
	uint8_t out[2 * ATA_SECTOR], in[2 * ATA_SECTOR], disk[2 * ATA_SECTOR];
	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 5 + 1);
	lba28(f, PRI, 0, 3, 2);
	outb(f, PRI + ATA_REG_STATUS, WIN_WRITE);
	for (unsigned s = 0; s < 2; s++) {
		assert_int_equal(inb(f, 0x3f6) & (ATA_BUSY | ATA_DRQ), ATA_DRQ);
		vmm_bus_access_rep(&f->pio, PRI, out + s * ATA_SECTOR, 2, 256, true);
		wait_irq(f, 14, ++irqs);
		assert_false(inb(f, PRI + ATA_REG_STATUS) & (ATA_BUSY | ATA_ERR));
	}
	file_read(f, 0, 3 * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(disk, out, sizeof(out));

	/* READ SECTORS: the second block is started by the I/O thread itself. */
	lba28(f, PRI, 0, 3, 2);
	outb(f, PRI + ATA_REG_STATUS, WIN_READ);
	for (unsigned s = 0; s < 2; s++) {
		wait_irq(f, 14, ++irqs);
		assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC | ATA_DRQ);
		vmm_bus_access_rep(&f->pio, PRI, in + s * ATA_SECTOR, 2, 256, false);
	}
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	/* One data-register access per sector moved by rep, not one per word. */
	assert_int_equal(f->ide.chan[0].stats.data_reads, 3);
	assert_int_equal(f->ide.chan[0].stats.data_writes, 2);
}

static void test_dma_through_the_engine(void **state)
{
	struct fixture *f = *state;
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	uint32_t prd[4] = {(uint32_t)BUF, 1024, (uint32_t)BUF + 4096, 1024 | ATA_PRD_EOT};
	memcpy(&f->ram[TABLE - RAM_GPA], prd, sizeof(prd));
	unsigned irqs = f->rises[14];
	/* READ DMA of 4 sectors at 100 into two pieces of RAM. */
	outl(f, BM_PORT + ATA_DMA_TABLE_OFS, (uint32_t)TABLE);
	outb(f, BM_PORT + ATA_DMA_CMD, ATA_DMA_WR);
	lba28(f, PRI, 0, 100, 4);
	outb(f, PRI + ATA_REG_STATUS, WIN_READDMA);
	outb(f, BM_PORT + ATA_DMA_CMD, ATA_DMA_WR | ATA_DMA_START);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(inb(f, BM_PORT + ATA_DMA_STATUS) & 7, ATA_DMA_INTR);
	outb(f, BM_PORT + ATA_DMA_CMD, 0);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	uint8_t disk[2048];
	file_read(f, 0, 100 * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(&f->ram[BUF - RAM_GPA], disk, 1024);
	assert_memory_equal(&f->ram[BUF + 4096 - RAM_GPA], disk + 1024, 1024);

	/* WRITE DMA of the same pieces, changed, to sector 200. */
	for (unsigned i = 0; i < 1024; i++) {
		f->ram[BUF - RAM_GPA + i] ^= 0xff;
		f->ram[BUF + 4096 - RAM_GPA + i] ^= 0x0f;
	}
	outb(f, BM_PORT + ATA_DMA_STATUS, ATA_DMA_INTR | ATA_DMA_ERR);
	lba28(f, PRI, 0, 200, 4);
	outb(f, PRI + ATA_REG_STATUS, WIN_WRITEDMA);
	outb(f, BM_PORT + ATA_DMA_CMD, ATA_DMA_START);
	wait_irq(f, 14, ++irqs);
	outb(f, BM_PORT + ATA_DMA_CMD, 0);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	file_read(f, 0, 200 * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(&f->ram[BUF - RAM_GPA], disk, 1024);
	assert_memory_equal(&f->ram[BUF + 4096 - RAM_GPA], disk + 1024, 1024);
	assert_int_equal(f->ide.chan[0].stats.dma_bytes, 4096);
}

/* With the write cache off the flush after the last block is started by the I/O thread itself
 * (from the write's completion), after its batch: the command still ends. */
static void test_write_through_flush(void **state)
{
	struct fixture *f = *state;
	unsigned irqs = f->rises[14];
	outb(f, PRI + ATA_REG_ERR, SETFEATURES_DIS_WCACHE);
	outb(f, PRI + ATA_REG_STATUS, WIN_SETFEATURES);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	uint8_t out[ATA_SECTOR], disk[ATA_SECTOR];
	memset(out, 0x5e, sizeof(out));
	lba28(f, PRI, 0, 30, 1);
	outb(f, PRI + ATA_REG_STATUS, WIN_WRITE);
	vmm_bus_access_rep(&f->pio, PRI, out, 2, 256, true);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	file_read(f, 0, 30 * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(disk, out, sizeof(out));
}

static void test_readonly_slave_and_secondary(void **state)
{
	struct fixture *f = *state;
	unsigned irqs = f->rises[14];
	lba28(f, PRI, 1, 0, 1);
	outb(f, PRI + ATA_REG_STATUS, WIN_WRITE);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(inb(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_ERR);
	assert_int_equal(inb(f, PRI + ATA_REG_ERR), ATA_ABORTED);
	uint8_t b;
	file_read(f, 1, 0, &b, 1);
	assert_int_equal(b, file_byte(1, 0));

	/* The secondary master: its own ports, IRQ 15, its own file. */
	unsigned irqs15 = f->rises[15];
	uint8_t out[ATA_SECTOR], disk[ATA_SECTOR];
	memset(out, 0x6b, sizeof(out));
	lba28(f, SEC, 0, 9, 1);
	outb(f, SEC + ATA_REG_STATUS, WIN_WRITE);
	vmm_bus_access_rep(&f->pio, SEC, out, 4, 128, true); /* rep outsl */
	wait_irq(f, 15, ++irqs15);
	assert_int_equal(inb(f, SEC + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	file_read(f, 2, 9 * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(disk, out, sizeof(out));
	assert_int_equal(f->rises[14], irqs);
}

/* ------------------------------------------------------------ opt=all on a fake KVM --------- */

static struct fake_efd *efd_at(struct fixture *f, uint32_t port, unsigned len, uint64_t val)
{
	for (unsigned i = 0; i < f->nefd; i++)
		if (f->efd[i].port == port && f->efd[i].len == len && f->efd[i].val == val)
			return &f->efd[i];
	return NULL;
}

/* KVM's side of a guest OUT: swallowed by an ioeventfd, appended to the ring in a zone, or an
 * exit (vmmon syncs, then the bus). The ring being full is an exit, as in KVM. */
static void gout(struct fixture *f, uint16_t port, unsigned len, uint32_t v)
{
	struct fake_efd *e = efd_at(f, port, len, v);
	if (e) {
		host_signal(e->fd);
		f->swallowed++;
		return;
	}
	for (unsigned i = 0; i < f->nzone; i++) {
		uint32_t last = f->ring->last, next = (last + 1) % RING_MAX;
		if (port < f->zone[i][0] || port + len > f->zone[i][0] + f->zone[i][1] ||
		    next == __atomic_load_n(&f->ring->first, __ATOMIC_ACQUIRE))
			continue;
		struct kvm_coalesced_mmio *x = &f->ring->coalesced_mmio[last];
		x->phys_addr = port;
		x->len = len;
		x->pio = 1;
		memcpy(x->data, &v, len);
		__atomic_store_n(&f->ring->last, next, __ATOMIC_RELEASE); /* as KVM publishes */
		f->coalesced++;
		return;
	}
	f->exits++;
	vmm_coalesce_sync(&f->c, port);
	vmm_bus_access(&f->pio, port, (uint8_t *)&v, len, true);
}

static uint8_t gin(struct fixture *f, uint16_t port)
{
	uint8_t v = 0;
	f->exits++;
	vmm_coalesce_sync(&f->c, port);
	vmm_bus_access(&f->pio, port, &v, 1, false);
	return v;
}

static void glba28(struct fixture *f, uint16_t base, uint32_t lba, uint8_t n)
{
	gout(f, base + ATA_REG_DEVICE, 1, 0xe0);
	gout(f, base + ATA_REG_NSECT, 1, n);
	gout(f, base + ATA_REG_LBAL, 1, (uint8_t)lba);
	gout(f, base + ATA_REG_LBAM, 1, (uint8_t)(lba >> 8));
	gout(f, base + ATA_REG_LBAH, 1, (uint8_t)(lba >> 16));
}

/* Which one-byte writes the fake KVM swallows on the channel's command block and bus-master
 * registers at bm: exactly those ata_db_find names. Returns how many. */
static unsigned check_decode(struct fixture *f, unsigned c, uint16_t bm)
{
	uint16_t cmd = c ? SEC : PRI;
	unsigned n = 0;
	for (unsigned off = 0; off < 8; off++)
		for (unsigned v = 0; v < 256; v++) {
			bool a = efd_at(f, cmd + off, 1, v) != NULL;
			bool b = efd_at(f, bm + c * ATA_BM_CHAN_SIZE + off, 1, v) != NULL;
			assert_int_equal(a, ata_db_find(ATA_DB_CMD, off, 1, v) >= 0);
			assert_int_equal(b, bm && ata_db_find(ATA_DB_BM, off, 1, v) >= 0);
			n += a + b;
		}
	return n;
}

static void test_doorbells_registered(void **state)
{
	struct fixture *f = *state;
	/* Before BAR4 decodes: the DMA opcodes on each channel's command register. */
	assert_int_equal(f->nefd, 8);
	assert_int_equal(check_decode(f, 0, 0), 4);
	assert_int_equal(check_decode(f, 1, 0), 4);
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	assert_int_equal(f->nefd, 16);
	assert_int_equal(check_decode(f, 0, BM_PORT), 8);
	assert_int_equal(check_decode(f, 1, BM_PORT), 8);
	/* No width but one byte, no other register. */
	assert_null(efd_at(f, PRI + ATA_REG_STATUS, 2, WIN_READDMA));
	assert_null(efd_at(f, BM_PORT + ATA_DMA_STATUS, 1, ATA_DMA_START));
	/* BAR4 moves: they follow; decoding off: gone. */
	unsigned bar4 = PCI_BASE_ADDRESS_0 + 4 * PIIX_IDE_BAR;
	cfg_wr(f, PCI_COMMAND, 2, 0);
	assert_int_equal(f->nefd, 8);
	cfg_wr(f, bar4, 4, 0xd000);
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_int_equal(f->nefd, 16);
	assert_int_equal(check_decode(f, 0, 0xd000), 8);
	assert_int_equal(check_decode(f, 1, 0xd000), 8);
	assert_null(efd_at(f, BM_PORT + ATA_DMA_CMD, 1, ATA_DMA_START));
	cfg_wr(f, PCI_COMMAND, 2, 0);
	cfg_wr(f, bar4, 4, BM_PORT);
	/* Destroy (the I/O thread never ran) takes every one away. */
	piix_ide_destroy(&f->ide);
	assert_int_equal(f->nefd, 0);
	assert_int_equal(f->nzone, 0);
	/* teardown's destroy finds nothing left to do */
}

static void put_table(struct fixture *f)
{
	uint32_t prd[4] = {(uint32_t)BUF, 1024, (uint32_t)BUF + 4096, 1024 | ATA_PRD_EOT};
	memcpy(&f->ram[TABLE - RAM_GPA], prd, sizeof(prd));
}

static void check_dma_data(struct fixture *f, uint64_t sector)
{
	uint8_t disk[2048];
	file_read(f, 0, sector * ATA_SECTOR, disk, sizeof(disk));
	assert_memory_equal(&f->ram[BUF - RAM_GPA], disk, 1024);
	assert_memory_equal(&f->ram[BUF + 4096 - RAM_GPA], disk + 1024, 1024);
}

/* The guest driver's DMA command, as guest-drivers/drivers/ata.c issues it. */
static void guest_dma_start(struct fixture *f, bool write, uint32_t lba)
{
	uint8_t dir = write ? 0 : ATA_DMA_WR;
	gout(f, BM_PORT + ATA_DMA_TABLE_OFS, 4, (uint32_t)TABLE);
	gout(f, BM_PORT + ATA_DMA_CMD, 1, dir);
	glba28(f, PRI, lba, 4);
	gout(f, PRI + ATA_REG_STATUS, 1, write ? WIN_WRITEDMA : WIN_READDMA);
	gout(f, BM_PORT + ATA_DMA_CMD, 1, dir | ATA_DMA_START);
}

/* After the interrupt: the bus master's status, stop, Status (acknowledging), clear. */
static void guest_dma_end(struct fixture *f, bool write)
{
	assert_int_equal(gin(f, BM_PORT + ATA_DMA_STATUS) & 7, ATA_DMA_INTR);
	gout(f, BM_PORT + ATA_DMA_CMD, 1, write ? 0 : ATA_DMA_WR);
	assert_int_equal(gin(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	gout(f, BM_PORT + ATA_DMA_STATUS, 1, ATA_DMA_INTR);
}

static void test_dma_through_doorbells(void **state)
{
	struct fixture *f = *state;
	struct ata_chan *ch = &f->ide.chan[0];
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	put_table(f);
	/* The I/O thread is not running: only exits read the doorbells. Everything up to the
	 * command byte costs no exit; the Alternate Status read that follows sees the command
	 * (its exit reads the doorbell after draining the task file): waiting for the start. */
	guest_dma_start(f, false, 100);
	assert_int_equal(f->exits, 0);
	assert_int_equal(f->swallowed, 3);
	assert_int_equal(f->coalesced, 6);
	assert_int_equal(ch->stats.commands, 0);
	assert_int_equal(gin(f, 0x3f6), ATA_DRDY | ATA_BUSY); /* start read too: with the engine */
	assert_int_equal(ch->stats.db_commands, 1);
	assert_int_equal(ch->stats.db_starts, 1);
	assert_int_equal(ch->stats.db_stops, 1);
	assert_true(ch->inflight);
	/* The thread starts the queued request; the interrupt ends it. */
	unsigned irqs = f->rises[14];
	assert_int_equal(vmm_io_start(&f->io), 0);
	wait_irq(f, 14, ++irqs);
	guest_dma_end(f, false);
	check_dma_data(f, 100);
	assert_int_equal(gin(f, BM_PORT + ATA_DMA_CMD), ATA_DMA_WR); /* the stop applied */

	/* With the thread running it reads the doorbells itself: the command runs with no exit
	 * at all, and ends with two, the two reads the protocol needs. */
	for (unsigned i = 0; i < 2048; i++)
		f->ram[BUF - RAM_GPA + (i < 1024 ? i : i + 3072)] ^= 0x5a;
	f->exits = 0;
	guest_dma_start(f, true, 300);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(f->exits, 0);
	guest_dma_end(f, true);
	assert_int_equal(f->exits, 2);
	check_dma_data(f, 300);
	assert_int_equal(ch->stats.db_commands, 2);
	assert_int_equal(ch->stats.db_ambiguous, 0);
	assert_int_equal(ch->stats.dma_bytes, 4096);
	/* Non-DMA commands still exit and work: IDENTIFY. */
	gout(f, PRI + ATA_REG_STATUS, 1, WIN_IDENTIFY);
	assert_int_equal(f->exits, 3);
	wait_irq(f, 14, ++irqs);
	assert_int_equal(gin(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC | ATA_DRQ);
}

/* A doorbell rung before a PCI configuration write that turns bus mastering off is applied
 * before it (the PCI data port's exit reads it): the transfer started while it was on. And a
 * soft reset (control block) after a swallowed command drops that command. */
static void test_doorbells_before_config_and_reset(void **state)
{
	struct fixture *f = *state;
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	put_table(f);
	guest_dma_start(f, false, 40);
	gout(f, 0xcf8, 4, 0x80000000u | (unsigned)f->slot << 11 | PCI_COMMAND);
	gout(f, PCI_HOST_DATA_PORT, 2, PCI_COMMAND_IO);
	assert_int_equal(f->exits, 2);
	struct ata_chan *ch = &f->ide.chan[0];
	assert_true(ch->inflight);
	assert_int_equal(ch->stats.dma_errors, 0);
	unsigned irqs = f->rises[14];
	assert_int_equal(vmm_io_start(&f->io), 0);
	wait_irq(f, 14, ++irqs);
	guest_dma_end(f, false);
	check_dma_data(f, 40);

	/* The command swallowed, then SRST: the reset comes after it, as written. */
	gout(f, 0xcf8, 4, 0x80000000u | (unsigned)f->slot << 11 | PCI_COMMAND);
	gout(f, PCI_HOST_DATA_PORT, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	glba28(f, PRI, 50, 4);
	gout(f, PRI + ATA_REG_STATUS, 1, WIN_READDMA);
	gout(f, 0x3f6, 1, ATA_SRST);
	gout(f, 0x3f6, 1, 0);
	assert_int_equal(ch->stats.commands, 2);
	assert_int_equal(gin(f, PRI + ATA_REG_STATUS), ATA_DRDY | ATA_DSC);
	gout(f, BM_PORT + ATA_DMA_CMD, 1, ATA_DMA_WR | ATA_DMA_START);
	assert_int_equal(gin(f, BM_PORT + ATA_DMA_STATUS) & (ATA_DMA_ERR | ATA_DMA_INTR), 0);
	assert_int_equal(ch->stats.dma_bytes, 2048);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pci_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pio_through_the_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_through_the_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_slave_and_secondary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbells_registered, setup_opt, teardown),
		cmocka_unit_test_setup_teardown(test_dma_through_doorbells, setup_opt, teardown),
		cmocka_unit_test_setup_teardown(test_doorbells_before_config_and_reset, setup_opt,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
