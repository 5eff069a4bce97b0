/* SPDX-License-Identifier: MIT */
/*
 * The PIIX IDE function end to end without KVM: its PCI config space behind a host bridge, its
 * legacy ports and BAR4 on a real port bus, real disk files and vmmon's real I/O thread running
 * the block engine. Data moves by PIO (rep insw/outsw bursts through vmm_bus_access_rep) and by
 * DMA through a PRD table in fake guest RAM, and is checked in the files; a write-through write
 * whose flush the I/O thread starts itself ends; a read-only disk
 * refuses writes; the secondary channel answers on its own ports and IRQ 15; a channel without
 * drives reads as absent.
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
};

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

static int setup(void **state)
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
	assert_int_equal(
		piix_ide_init(&f->ide, &f->pio, &f->io, &f->mem, fake_irq, f, BM_PORT, NULL, &err),
		0);
	/* Primary master, primary slave (read-only), secondary master. */
	for (unsigned i = 0; i < 3; i++) {
		make_disk(f, i);
		struct host_blk_opts o = {.path = f->path[i], .readonly = i == 1, .queues = 1};
		assert_int_equal(piix_ide_add_disk(&f->ide, &o, 0, &err), 0);
	}
	f->slot = pci_host_add(&f->host, &f->ide.pci, -1);
	assert_true(f->slot > 0);
	assert_int_equal(vmm_io_start(&f->io), 0);
	*state = f;
	return 0;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pci_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pio_through_the_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_through_the_engine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_slave_and_secondary, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
