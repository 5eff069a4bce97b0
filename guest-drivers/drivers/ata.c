// SPDX-License-Identifier: MIT
/*
 * The ATA driver. Every command follows ATA/ATAPI-6's host protocols (9.x): wait until BSY and
 * DRQ are clear and DRDY is set, write the taskfile (for a 48-bit command each register twice,
 * the high-order byte first), the Device register, then the command byte; wait 400 ns, reading
 * the Alternate Status once, before anything polls the status.
 *
 * Reads are what a VMM pays for (each one is an exit), so a command reads only what the
 * protocol needs, and an interrupt-driven DMA command reads two registers: the bus master's
 * status and the Status that acknowledges INTRQ. Two reads the letter of the protocol has are
 * left out where the driver knows their answer:
 *  - the ready check before a command (HI1: Check_Status), when the previous command's ending
 *    Status showed DRDY and BSY, DRQ, ERR, DF clear (a->ready). ATA-6's Status register
 *    lets a device set BSY only after a reset, after the host wrote the Command register, or
 *    within that command's data transfer, and DRQ only in a data phase; DRDY stays set in Idle
 *    and Standby. This driver drives one device and is the only writer of its channel's
 *    registers, so nothing can have changed that answer. After a reset or a failure it reads
 *    again.
 *  - the Alternate Status read in the 400 ns pause after the command byte, when the next look
 *    at the status comes after INTRQ: the 400 ns rule guards a status read made before the
 *    device has set BSY, and INTRQ comes only after the device took the command. (The read is
 *    libata's way of flushing posted writes before the delay; port I/O writes are not
 *    posted.) Polling, or a PIO data-out command, which polls for its first DRQ, keeps it.
 *
 * Interrupts: the IRQ pin is programmed edge-triggered (runtime/platform.h), and the device
 * holds INTRQ asserted until the host reads the Status register. So every interrupt is
 * followed by exactly one Status read before the action that can raise the next one, or no
 * edge would come. The wait takes the interrupt count before that action (a command byte, a
 * DRQ block written), and the Status read comes after the count moved; an INTRQ cannot rise
 * again before that read, so no interrupt is lost or counted twice.
 */
#include "drivers/ata.h"
#include "drivers/ata_regs.h"
#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define LBA28_END	(1ull << 28)
#define LBA28_MAX	256
#define POLL_TIGHT	100
#define POLL_BACKOFF_US 10

uint8_t g_ata_altstatus(const struct g_ata *a)
{
	return g_inb(a->ctl);
}

/* ATA-6's 400 ns after a Device or Command write: one Alternate Status read, as libata does,
 * then the rest on the TSC (no more I/O, so no more exits under a VMM). */
void g_ata_pause(const struct g_ata *a)
{
	uint64_t end = g_rdtsc() + g_tsc_khz() * 400 / 1000000 + 1;

	g_ata_altstatus(a);
	while ((int64_t)(g_rdtsc() - end) < 0)
		g_cpu_relax();
}

/* Between polls i and i + 1: after POLL_TIGHT reads, back off. Under QEMU TCG each read takes
 * the big lock, and a vCPU that never lets go of it can starve the main loop that would finish
 * the work. */
static void poll_pause(unsigned int i)
{
	if (i < POLL_TIGHT)
		g_cpu_relax();
	else
		g_udelay(POLL_BACKOFF_US);
}

int g_ata_poll_alt(const struct g_ata *a, uint8_t clear, uint64_t deadline, uint8_t *st)
{
	for (unsigned int i = 0;; i++) {
		*st = g_ata_altstatus(a);
		if (!(*st & clear))
			return 0;
		if (g_tsc_passed(deadline))
			return -ETIMEDOUT;
		poll_pause(i);
	}
}

static int fail(struct g_ata *a, uint8_t command, uint8_t st, int rc)
{
	a->fail_cmd = command;
	a->fail_status = st;
	a->fail_error = st & (ATA_ERR | ATA_DF) ? g_inb(a->cmd + ATA_REG_ERR) : 0;
	return rc;
}

/* ERR or DF, or DRQ other than expected, fail the command. */
static int check(struct g_ata *a, uint8_t command, uint8_t st, bool want_drq)
{
	if (st & (ATA_ERR | ATA_DF) || !(st & ATA_DRQ) != !want_drq)
		return fail(a, command, st, -EIO);
	return 0;
}

/* Waits for INTRQ: the interrupt after irq_seen (taken before the action that raises it), or,
 * polled, BSY clear. */
static int wait_intrq(struct g_ata *a, uint8_t command, uint64_t deadline)
{
	uint64_t now = g_rdtsc();
	uint8_t st;
	int rc;

	if (a->o.poll) {
		rc = g_ata_poll_alt(a, ATA_BUSY, deadline, &st);
	} else if ((int64_t)(deadline - now) <= 0) {
		rc = -ETIMEDOUT;
	} else {
		rc = g_irq_wait(a->vector, a->irq_seen, g_tsc_to_us(deadline - now) + 1);
		a->irq_seen = g_irq_count(a->vector);
	}
	return rc ? fail(a, command, g_ata_altstatus(a), rc) : 0;
}

/* Reads the Status register, which acknowledges INTRQ. A BSY still set there is not ATA-6
 * after INTRQ; it is waited out rather than the other bits trusted. */
static int read_status(struct g_ata *a, uint8_t command, uint64_t deadline, uint8_t *st)
{
	int rc;

	*st = g_inb(a->cmd + ATA_REG_STATUS);
	if (!(*st & ATA_BUSY))
		return 0;
	rc = g_ata_poll_alt(a, ATA_BUSY, deadline, st);
	if (rc)
		return fail(a, command, *st, rc);
	*st = g_inb(a->cmd + ATA_REG_STATUS);
	return 0;
}

static int await(struct g_ata *a, uint8_t command, uint64_t deadline, uint8_t *st)
{
	int rc = wait_intrq(a, command, deadline);

	return rc ? rc : read_status(a, command, deadline, st);
}

/* Before the next action that raises INTRQ: the count it must move past. */
static void arm(struct g_ata *a)
{
	if (!a->o.poll)
		a->irq_seen = g_irq_count(a->vector);
}

/* Writes tf and its command byte once the device is ready for a command (known from the last
 * command's end, or read). poll_next: the caller polls the status next, not after INTRQ, so
 * the 400 ns pause reads the Alternate Status (see the top). */
static int issue(struct g_ata *a, const struct g_ata_tf *tf, uint64_t deadline, bool poll_next)
{
	uint16_t r = a->cmd;
	uint8_t st = 0, dev = ATA_DEVICE_OBS | ATA_LBA | (a->drive ? ATA_DEV1 : 0);
	int rc = a->ready ? 0 : g_ata_poll_alt(a, ATA_BUSY | ATA_DRQ, deadline, &st);

	if (!rc && !a->ready && !(st & ATA_DRDY))
		rc = -EIO;
	if (rc)
		return fail(a, tf->command, st, rc);
	a->ready = false; /* until this command's end shows it again */
	if (tf->ext) {
		/* The "previous content" of each FIFO register first (ATA-6 6.20). */
		g_outb(r + ATA_REG_NSECT, (uint8_t)(tf->nsect >> 8));
		g_outb(r + ATA_REG_LBAL, (uint8_t)(tf->lba >> 24));
		g_outb(r + ATA_REG_LBAM, (uint8_t)(tf->lba >> 32));
		g_outb(r + ATA_REG_LBAH, (uint8_t)(tf->lba >> 40));
	} else {
		dev |= (uint8_t)((tf->lba >> 24) & 0x0f);
	}
	g_outb(r + ATA_REG_NSECT, (uint8_t)tf->nsect);
	g_outb(r + ATA_REG_LBAL, (uint8_t)tf->lba);
	g_outb(r + ATA_REG_LBAM, (uint8_t)(tf->lba >> 8));
	g_outb(r + ATA_REG_LBAH, (uint8_t)(tf->lba >> 16));
	g_outb(r + ATA_REG_DEVICE, dev);
	arm(a);
	g_io_barrier(); /* a PRD table or a buffer is complete before the device can use it */
	g_outb(r + ATA_REG_CMD, tf->command);
	a->commands++;
	if (poll_next)
		g_ata_pause(a);
	return 0;
}

/* A command's ending Status, checked (no DRQ): the device is then ready for the next one. */
static int end(struct g_ata *a, uint8_t command, uint8_t st)
{
	int rc = check(a, command, st, false);

	a->ready = !rc && (st & (ATA_BUSY | ATA_DRDY)) == ATA_DRDY;
	return rc;
}

/* PIO data-in (ATA-6 9.7): an interrupt before each DRQ block, none after the last. The
 * deadline runs per DRQ block, as a phase's timeout: where every data word costs an exit (a
 * host without KVM's coalesced PIO, or opt=none), a 64 KiB command takes seconds on a loaded
 * host without anything being wrong. */
int g_ata_pio_in(struct g_ata *a, const struct g_ata_tf *tf, uint16_t *buf, unsigned int per)
{
	uint64_t deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
	uint8_t st;
	int rc = issue(a, tf, deadline, a->o.poll);

	for (uint32_t done = 0; !rc && done < tf->nsect; done += per) {
		unsigned int n = tf->nsect - done < per ? tf->nsect - done : per;

		if (done)
			deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
		rc = await(a, tf->command, deadline, &st);
		if (!rc)
			rc = check(a, tf->command, st, true);
		if (!rc) {
			g_insw(a->cmd + ATA_REG_DATA, buf + (size_t)done * 256, n * 256u);
			a->drq_blocks++;
		}
	}
	if (rc)
		return rc;
	/* The device ends the command by clearing DRQ: no interrupt, so look at the Alternate
	 * Status (which acknowledges nothing) after the 400 ns it may take. */
	g_ata_pause(a);
	rc = g_ata_poll_alt(a, ATA_BUSY, deadline, &st);
	return rc ? fail(a, tf->command, st, rc) : end(a, tf->command, st);
}

/* PIO data-out (ATA-6 9.8): the first DRQ block is polled for, then an interrupt follows
 * each block, the last one included. A deadline per block, as for data-in. */
static int pio_out(struct g_ata *a, const struct g_ata_tf *tf, const uint16_t *buf,
		   unsigned int per)
{
	uint64_t deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
	uint8_t st;
	int rc = issue(a, tf, deadline, true);

	if (!rc)
		rc = g_ata_poll_alt(a, ATA_BUSY, deadline, &st);
	if (!rc)
		rc = check(a, tf->command, st, true);
	for (uint32_t done = 0; !rc && done < tf->nsect; done += per) {
		unsigned int n = tf->nsect - done < per ? tf->nsect - done : per;

		arm(a);
		g_outsw(a->cmd + ATA_REG_DATA, buf + (size_t)done * 256, n * 256u);
		a->drq_blocks++;
		deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
		rc = await(a, tf->command, deadline, &st);
		if (!rc)
			rc = done + n < tf->nsect ? check(a, tf->command, st, true)
						  : end(a, tf->command, st);
	}
	return rc;
}

/* Non-data (ATA-6 9.9): one interrupt at the end. */
int g_ata_nodata(struct g_ata *a, const struct g_ata_tf *tf)
{
	uint64_t deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
	uint8_t st;
	int rc = issue(a, tf, deadline, a->o.poll);

	if (!rc)
		rc = await(a, tf->command, deadline, &st);
	return rc ? rc : end(a, tf->command, st);
}

/* The PRD table for bytes at buf: regions that never cross a 64 KiB boundary. */
static int build_prd(struct g_ata *a, const void *buf, uint32_t bytes)
{
	uint64_t p = g_mem_phys(buf);
	unsigned int i = 0;

	if (!bytes || (p & 1) || (bytes & 1) || p + bytes > (1ull << 32))
		return -EINVAL;
	while (bytes) {
		uint32_t room = 0x10000 - (uint32_t)(p & 0xffff);
		uint32_t len = bytes < room ? bytes : room;

		if (i == G_ATA_PRD_MAX)
			return -EINVAL;
		a->prd[i++] = (struct g_ata_prd){.addr = (uint32_t)p, .count = (uint16_t)len};
		p += len;
		bytes -= len;
	}
	a->prd[i - 1].flags = G_ATA_PRD_EOT;
	return 0;
}

/* Polled DMA: nIEN keeps INTRQ, and with it the controller's INTR bit, down, so the end is the
 * engine going idle. The last bus-master status in *bms. */
static int dma_poll(struct g_ata *a, uint8_t command, uint64_t deadline, uint8_t *bms)
{
	for (unsigned int i = 0;; i++) {
		*bms = g_inb(a->bm + ATA_DMA_STATUS);
		if (!(*bms & ATA_DMA_ACTIVE) || (*bms & ATA_DMA_INTR))
			return 0;
		if (g_tsc_passed(deadline))
			return fail(a, command, g_ata_altstatus(a), -ETIMEDOUT);
		poll_pause(i);
	}
}

/* Bus-master DMA (ATA-6 9.10 with the Bus Master Programming Interface, 3.0): the table, the
 * direction, the command, start; at the end (INTRQ, or polled the engine going idle) read
 * the controller's status, stop the engine, read the device's Status (acknowledging INTRQ),
 * then clear the controller's INTR and ERR. */
static int dma(struct g_ata *a, const struct g_ata_tf *tf, bool write, void *buf)
{
	uint64_t deadline = g_tsc_deadline(G_ATA_TIMEOUT_US);
	uint8_t dir = write ? 0 : ATA_DMA_WR, st = 0, bms = 0;
	int rc = build_prd(a, buf, tf->nsect * G_ATA_SECTOR);

	if (rc)
		return rc;
	g_outl(a->bm + ATA_DMA_TABLE, (uint32_t)g_mem_phys(a->prd));
	g_outb(a->bm + ATA_DMA_CMD, dir);
	rc = issue(a, tf, deadline, a->o.poll);
	if (rc)
		return rc;
	g_outb(a->bm + ATA_DMA_CMD, dir | ATA_DMA_START);
	if (a->o.poll) {
		rc = dma_poll(a, tf->command, deadline, &bms);
	} else {
		rc = wait_intrq(a, tf->command, deadline);
		bms = g_inb(a->bm + ATA_DMA_STATUS);
	}
	g_outb(a->bm + ATA_DMA_CMD, dir); /* stopped, whatever happened */
	if (!rc)
		rc = read_status(a, tf->command, deadline, &st);
	g_outb(a->bm + ATA_DMA_STATUS, bms & (ATA_DMA_INTR | ATA_DMA_ERROR));
	g_io_barrier(); /* the buffer is read after the device said it is done */
	if (rc)
		return rc;
	/* Still active: the device moved fewer bytes than the table holds. */
	if (bms & (ATA_DMA_ERROR | ATA_DMA_ACTIVE))
		return fail(a, tf->command, st, -EIO);
	return end(a, tf->command, st);
}

static int xfer(struct g_ata *a, bool write, uint64_t lba, void *buf, uint32_t n, bool ext)
{
	struct g_ata_tf tf = {.ext = ext, .nsect = n, .lba = lba};
	unsigned int per = a->multiple ? a->multiple : 1;

	if (a->o.dma) {
		tf.command = write ? (ext ? WIN_WRITEDMA_EXT : WIN_WRITEDMA)
				   : (ext ? WIN_READDMA_EXT : WIN_READDMA);
		return dma(a, &tf, write, buf);
	}
	if (a->multiple)
		tf.command = write ? (ext ? WIN_MULTWRITE_EXT : WIN_MULTWRITE)
				   : (ext ? WIN_MULTREAD_EXT : WIN_MULTREAD);
	else
		tf.command =
			write ? (ext ? WIN_WRITE_EXT : WIN_WRITE) : (ext ? WIN_READ_EXT : WIN_READ);
	return write ? pio_out(a, &tf, buf, per) : g_ata_pio_in(a, &tf, buf, per);
}

int g_ata_rw(struct g_ata *a, bool write, uint64_t lba, void *buf, uint32_t n)
{
	uint32_t max = a->lba48 ? G_ATA_EXT_MAX : LBA28_MAX;
	uint8_t *p = buf;

	if (lba > a->sectors || n > a->sectors - lba)
		return -EINVAL;
	while (n) {
		uint32_t cnt = n < max ? n : max;
		bool ext = a->o.lba48_always || cnt > LBA28_MAX || lba + cnt > LBA28_END;
		int rc = xfer(a, write, lba, p, cnt, ext);

		if (rc)
			return rc;
		lba += cnt;
		p += (size_t)cnt * G_ATA_SECTOR;
		n -= cnt;
	}
	return 0;
}

int g_ata_flush(struct g_ata *a)
{
	struct g_ata_tf tf = {.command = a->lba48 && a->flush_ext ? WIN_FLUSH_CACHE_EXT
								  : WIN_FLUSH_CACHE};

	if (!a->flush)
		return -ENOTSUP;
	tf.ext = tf.command == WIN_FLUSH_CACHE_EXT;
	return g_ata_nodata(a, &tf);
}

uint64_t g_ata_irq_count(const struct g_ata *a)
{
	return a->o.poll ? 0 : g_irq_count(a->vector);
}
