/* SPDX-License-Identifier: MIT */
/*
 * The guest's PCnet driver (guest-drivers/drivers/pcnet.c, compiled for the host against the
 * stand-ins in guest_fake/) driving vmmon's PCnet core through its I/O BAR, with the line
 * counted as the guest programs its I/O APIC pin: edge-triggered, an interrupt per rise.
 *
 * What it pins down: every interrupt service leaves INTA able to make the next edge. An event
 * the chip flags after the service's last read of CSR0 must raise INTA again at the service's
 * final INEA write; were the line high throughout the service (one for IDON, whose first read
 * shows no RINT, TINT or ERR), it would stay high with no edge and the driver would sleep
 * until its deadline. The events are injected the way the I/O thread would deliver them, right
 * after a chosen CSR0 read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dev/pcnet.h"
#include "drivers/pcnet.h"
#include "drivers/tsc.h"
#include "lib/printf.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define PORT	  0xc000u
#define GSI	  11u
#define VECTOR	  0x4bu
#define ARENA	  (4u << 20)
#define WAIT_US	  1000u
#define NTX_RING  (1u << G_PCNET_TX_LOG2)
#define CSR0_RINT 0x0400

enum inject { NONE, RX_FRAME, TX_RUN };

/* The chip, the guest RAM both sides see (physical == host address, below 4 GiB), the line,
 * and what the test delivers after the n-th CSR0 read. */
static struct {
	struct pcnet p;
	struct gmem mem;
	uint8_t *arena;
	size_t used;
	bool line;
	uint64_t edges;
	unsigned kicks, sent;
	bool defer_tx; /* kicks wait for the injection, as a busy I/O thread makes them */
	enum inject inject;
	unsigned inject_read; /* CSR0 reads to let pass before it; the next one injects */
	uint64_t tsc;
	unsigned scanned;
} t;

static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* ------------------------------------------------------------ the host side ------------------ */

static int line_set(void *ctx, unsigned gsi, bool level)
{
	(void)ctx;
	assert_int_equal(gsi, GSI);
	if (level && !t.line)
		t.edges++;
	t.line = level;
	return 0;
}

static void kick(void *ctx)
{
	(void)ctx;
	t.kicks++;
}

static int wire(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
	t.sent++;
	return 0;
}

static const struct pcnet_ops ops = {.tx_kick = kick, .tx = wire};

static void run_tx(void)
{
	t.kicks = 0;
	pcnet_tx_run(&t.p);
}

/* What the I/O thread delivers between two of the driver's I/O instructions. */
static void deliver(void)
{
	uint8_t frame[60] = {0};
	switch (t.inject) {
	case RX_FRAME:
		memcpy(frame, mac, sizeof(mac));
		frame[12] = 0x08; /* IPv4 */
		assert_int_equal(pcnet_rx(&t.p, frame, sizeof(frame)), PCNET_RX_DELIVERED);
		break;
	case TX_RUN:
		run_tx();
		break;
	case NONE:
		break;
	}
	t.inject = NONE;
}

static uint16_t io(uint16_t port, uint16_t v, unsigned len, bool is_write)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	bool csr0_read = !is_write && port == PORT + PCNET_RDP && t.p.rap == 0;
	assert_true(port >= PORT && port < PORT + PCNET_IO_SIZE);
	assert_int_equal(pcnet_trap(&t.p, port - PORT, b, len, is_write), 0);
	if (t.kicks && !t.defer_tx)
		run_tx();
	if (csr0_read && t.inject != NONE && !t.inject_read--)
		deliver();
	return (uint16_t)(b[0] | b[1] << 8);
}

/* ------------------------------------------------------------ the guest's runtime ------------ */

uint8_t g_inb(uint16_t port)
{
	return (uint8_t)io(port, 0, 1, false);
}

uint16_t g_inw(uint16_t port)
{
	return io(port, 0, 2, false);
}

void g_outw(uint16_t port, uint16_t v)
{
	io(port, v, 2, true);
}

uint64_t g_rdtsc(void)
{
	return ++t.tsc; /* a tick is a microsecond here */
}

uint64_t g_tsc_deadline(uint64_t us)
{
	return g_rdtsc() + us;
}

bool g_tsc_passed(uint64_t deadline)
{
	return (int64_t)(g_rdtsc() - deadline) >= 0;
}

void g_udelay(uint64_t us)
{
	t.tsc += us;
}

uint64_t g_tsc_to_us(uint64_t ticks)
{
	return ticks;
}

int g_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void *g_mem_alloc(size_t size, size_t align)
{
	size_t at = (t.used + align - 1) & ~(align - 1);
	if (at + size > ARENA)
		return NULL;
	t.used = at + size;
	memset(t.arena + at, 0, size);
	return t.arena + at;
}

void g_pci_scan_start(struct g_pci_scan *s)
{
	memset(s, 0, sizeof(*s));
	t.scanned = 0;
}

int g_pci_scan_next(struct g_pci_scan *s, struct g_pci_dev *d)
{
	(void)s;
	if (t.scanned++)
		return -ENOENT;
	*d = (struct g_pci_dev){.dev = 1,
				.vendor = PCNET_PCI_VENDOR,
				.device = PCNET_PCI_DEVICE,
				.irq_pin = 1,
				.irq_line = GSI,
				.bar[0] = {.addr = PORT, .size = PCNET_IO_SIZE, .io = true}};
	return 0;
}

void g_pci_command(const struct g_pci_dev *d, uint16_t bits, bool on)
{
	(void)d;
	if (bits & PCI_COMMAND_MASTER)
		pcnet_set_bus_master(&t.p, on);
}

int g_platform_route_pci_intx(unsigned int bus, unsigned int dev, unsigned int pin,
			      unsigned int line, unsigned int *vector)
{
	(void)bus;
	(void)dev;
	(void)pin;
	assert_int_equal(line, GSI);
	*vector = VECTOR;
	return 0;
}

uint64_t g_irq_count(unsigned int vector)
{
	assert_int_equal(vector, VECTOR);
	return t.edges;
}

/* Nothing else happens while the guest would sleep: an interrupt has come, or none will. */
int g_irq_wait(unsigned int vector, uint64_t seen, uint64_t timeout_us)
{
	if (g_irq_count(vector) != seen)
		return 0;
	t.tsc += timeout_us;
	return -ETIMEDOUT;
}

/* ------------------------------------------------------------ fixture ----------------------- */

/* A chip brought up by the driver: IDON still set with INEA, so INTA is high (one edge). */
static int setup(void **state)
{
	static struct g_pcnet n;
	memset(&t, 0, sizeof(t));
	/* The chip's addresses are 32 bits and the driver's physical == virtual. */
	t.arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		       -1, 0);
	if (t.arena == MAP_FAILED)
		return -1;
	gmem_init(&t.mem);
	if (gmem_add(&t.mem, (uintptr_t)t.arena, ARENA, t.arena, -1, 0))
		return -1;
	struct vmm_irq irq = {.set = line_set, .gsi = GSI};
	pcnet_init(&t.p, mac, &t.mem, irq, &ops, NULL);
	if (g_pcnet_probe(&n, false) || !t.line || t.edges != 1)
		return -1;
	*state = &n;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pcnet_destroy(&t.p);
	munmap(t.arena, ARENA);
	return 0;
}

/* ------------------------------------------------------------ tests ------------------------- */

/* netrx's case: the first frame lands between the IDON service's CSR0 read and its last write. */
static void test_rx_after_idon_read(void **state)
{
	struct g_pcnet *n = *state;
	uint8_t *frame;
	uint32_t len;
	t.inject = RX_FRAME;
	assert_int_equal(g_pcnet_wait(n, g_tsc_deadline(WAIT_US)), 0);
	assert_int_equal(t.inject, NONE);
	/* INTA fell in the service and rose for RINT at its last write: a second interrupt. */
	assert_true(t.line);
	assert_int_equal(t.edges, 2);
	void *buf = g_pcnet_recv(n, &frame, &len);
	assert_non_null(buf);
	assert_int_equal(len, 60);
	g_pcnet_recv_done(n, buf);
	/* Its service finds RINT and leaves the line low. */
	assert_int_equal(g_pcnet_wait(n, g_tsc_deadline(WAIT_US)), -ETIMEDOUT);
	assert_false(t.line);
	assert_int_equal(n->services, 2);
	assert_int_equal(pcnet_csr_read(&t.p, 0) & CSR0_RINT, 0);
}

/* nettx's case: the ring is full and the transmitter runs between the IDON service's CSR0
 * read and its last write; the driver must get the TINT interrupt. */
static void test_tx_after_idon_read(void **state)
{
	struct g_pcnet *n = *state;
	uint8_t frame[60] = {0};
	t.defer_tx = true;
	for (unsigned i = 0; i < NTX_RING; i++)
		assert_int_equal(g_pcnet_send(n, frame, sizeof(frame)), 0);
	assert_int_equal(g_pcnet_send(n, frame, sizeof(frame)), -ENOSPC);
	assert_int_equal(t.sent, 0);
	t.inject = TX_RUN;
	assert_int_equal(g_pcnet_tx_wait(n, g_tsc_deadline(WAIT_US)), 0);
	assert_int_equal(t.sent, NTX_RING);
	assert_true(t.line);
	assert_int_equal(t.edges, 2);
	/* The next wait services that interrupt, and the line is quiet again. */
	t.defer_tx = false;
	assert_int_equal(g_pcnet_send(n, frame, sizeof(frame)), 0);
	assert_int_equal(g_pcnet_tx_wait(n, g_tsc_deadline(WAIT_US)), 0);
	assert_int_equal(n->services, 2);
}

/* A frame after the second CSR0 read of a service that found TINT: INEA was off since the
 * first write-back, so the last write makes the edge. */
static void test_rx_after_second_read(void **state)
{
	struct g_pcnet *n = *state;
	uint8_t frame[60] = {0};
	assert_int_equal(g_pcnet_wait(n, g_tsc_deadline(WAIT_US)), -ETIMEDOUT); /* IDON */
	assert_false(t.line);
	assert_int_equal(g_pcnet_send(n, frame, sizeof(frame)), 0); /* TINT: edge 2 */
	assert_int_equal(t.edges, 2);
	t.inject = RX_FRAME;
	t.inject_read = 1;
	assert_int_equal(g_pcnet_wait(n, g_tsc_deadline(WAIT_US)), 0);
	assert_int_equal(t.inject, NONE);
	assert_true(t.line);
	assert_int_equal(t.edges, 3);
}

/* With nothing arriving, the IDON service leaves INTA low: 8 I/O instructions (RAP saved,
 * CSR0 read, written with INEA clear, INEA written, RAP restored). */
static void test_idon_service_quiet(void **state)
{
	struct g_pcnet *n = *state;
	assert_int_equal(g_pcnet_wait(n, g_tsc_deadline(WAIT_US)), -ETIMEDOUT);
	assert_false(t.line);
	assert_int_equal(t.edges, 1);
	assert_int_equal(n->services, 1);
	assert_int_equal(n->io, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rx_after_idon_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_after_idon_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_after_second_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idon_service_quiet, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
