/* SPDX-License-Identifier: MIT */
/*
 * The virtio-pci register core (virtio/pci_regs.c) against virtio 1.2, 4.1: the capability
 * list a driver walks (4.1.4), the common configuration structure (4.1.4.3) with feature
 * selection, the status sequence and reset, queue selection and setup, MSI-X vector assignment
 * (4.1.4.3, 4.1.5.1.2), the notification area (4.1.4.4), ISR status read-to-clear (4.1.4.5),
 * the device configuration window (4.1.4.6) and the PCI configuration access capability
 * (4.1.4.9). The offsets a driver uses are found the way a driver finds them: by walking the
 * capability list, never from vmmon's own constants.
 *
 * The device is a fake model on the real virtio core (device.c); KVM is replaced by recording
 * fakes for the core's ops (BAR moves, trapped kicks, MSI-X signals), for msix.c's ops and for
 * the INTx line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>

#include "gmem.h"
#include "host/util.h"
#include "virtio/pci_regs.h"

#define NQ	   3
#define QMAX	   256
#define CFG_SIZE   8
#define INTX_GSI   17
#define NO_VECTOR  0xffff /* VIRTIO_MSI_NO_VECTOR */
#define RAM_SIZE   (1u << 20)
#define MAX_EVENTS 32
/* Status bits (2.1) and the ISR bits (4.1.4.5), as the spec numbers them. */
#define S_ACK	    1
#define S_DRIVER    2
#define S_DRIVER_OK 4
#define S_FEAT_OK   8
#define S_NEEDS_RST 64
#define ISR_QUEUE   0x1
#define ISR_CONFIG  0x2
/* Features the fake offers: VERSION_1 (bit 32), INDIRECT_DESC (bit 28) and a device bit (5). */
#define FEATURES (1ull << 32 | 1ull << 28 | 1ull << 5)

/* Where the capabilities say each structure is (all in BAR 0). */
struct layout {
	uint8_t common_cap, notify_cap, isr_cap, device_cap, pci_cap, msix_cap;
	uint32_t common, common_len, notify, notify_len, mult, isr, isr_len, device, device_len;
};

struct fixture {
	struct vmm_io io; /* never started: it only holds the kick eventfds */
	uint8_t *ram;	  /* guest RAM at 0, for a queue brought live */
	struct gmem mem;
	struct vmm_virtio_dev dev;
	struct vmm_virtio_dev_ops dev_ops;
	struct vmm_vpci vp;
	struct layout l;
	uint8_t config[CFG_SIZE];
	/* What the core did. */
	unsigned remaps, kicks[MAX_EVENTS], nr_kicks, msis[MAX_EVENTS], nr_msis;
	bool intx;
	unsigned intx_sets;
	unsigned config_reads, config_writes, activates, resets, irq_changed[NQ];
	unsigned gsis;
};

static struct fixture *of_vp(struct vmm_vpci *vp)
{
	return container_of(vp, struct fixture, vp);
}

static struct fixture *of_dev(struct vmm_virtio_dev *d)
{
	return d->priv;
}

/* ------------------------------------------------------------ fakes --------------------------- */

static void fake_remap(struct vmm_vpci *vp)
{
	of_vp(vp)->remaps++;
}

static void fake_kick(struct vmm_vpci *vp, unsigned qi)
{
	struct fixture *f = of_vp(vp);
	assert_true(f->nr_kicks < MAX_EVENTS);
	f->kicks[f->nr_kicks++] = qi;
}

static void fake_msi(struct vmm_vpci *vp, unsigned v)
{
	struct fixture *f = of_vp(vp);
	assert_true(f->nr_msis < MAX_EVENTS);
	f->msis[f->nr_msis++] = v;
}

static const struct vmm_vpci_ops fake_vpci_ops = {fake_remap, fake_kick, fake_msi};

static int fake_intx(void *ctx, unsigned gsi, bool level)
{
	struct fixture *f = ctx;
	assert_int_equal(gsi, INTX_GSI);
	f->intx = level;
	f->intx_sets++;
	return 0;
}

static int fake_gsi_alloc(void *ctx)
{
	struct fixture *f = ctx;
	return 100 + (int)f->gsis++;
}

static int fake_route_set(void *ctx, unsigned gsi, uint64_t addr, uint32_t data)
{
	(void)ctx, (void)gsi, (void)addr, (void)data;
	return 0;
}

static int fake_irqfd(void *ctx, int efd, unsigned gsi, bool attach)
{
	(void)ctx, (void)efd, (void)gsi, (void)attach;
	return 0;
}

static const struct msix_ops fake_msix_ops = {fake_gsi_alloc, fake_route_set, fake_irqfd};

static void dev_config_read(struct vmm_virtio_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	struct fixture *f = of_dev(d);
	assert_true(off + len <= CFG_SIZE);
	memcpy(data, f->config + off, len);
	f->config_reads++;
}

static void dev_config_write(struct vmm_virtio_dev *d, unsigned off, const uint8_t *data,
			     unsigned len)
{
	struct fixture *f = of_dev(d);
	assert_true(off + len <= CFG_SIZE);
	memcpy(f->config + off, data, len);
	f->config_writes++;
}

static int dev_activate(struct vmm_virtio_dev *d)
{
	of_dev(d)->activates++;
	return 0;
}

static void dev_reset(struct vmm_virtio_dev *d)
{
	of_dev(d)->resets++;
}

static void dev_kick(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	(void)d, (void)q;
	fail_msg("no I/O thread runs in this test");
}

static void dev_irq_changed(struct vmm_virtio_dev *d, struct vmm_virtio_queue *q)
{
	of_dev(d)->irq_changed[q->index]++;
}

/* ------------------------------------------------------------ register access ----------------- */

static uint64_t bar0_rd(struct fixture *f, uint32_t off, unsigned len)
{
	uint8_t buf[8];
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(vmm_vpci_bar0_access(&f->vp, off, buf, len, false), 0);
	uint64_t v = 0;
	memcpy(&v, buf, len);
	return v;
}

static void bar0_wr(struct fixture *f, uint32_t off, unsigned len, uint64_t val)
{
	uint8_t buf[8];
	memcpy(buf, &val, sizeof(buf));
	assert_int_equal(vmm_vpci_bar0_access(&f->vp, off, buf, len, true), 0);
}

static uint64_t common_rd(struct fixture *f, unsigned reg, unsigned len)
{
	return bar0_rd(f, f->l.common + reg, len);
}

static void common_wr(struct fixture *f, unsigned reg, unsigned len, uint64_t val)
{
	bar0_wr(f, f->l.common + reg, len, val);
}

static uint32_t cfg_rd(struct fixture *f, unsigned off, unsigned len)
{
	return pci_dev_cfg_read(&f->vp.pci, off, len);
}

static void cfg_wr(struct fixture *f, unsigned off, unsigned len, uint32_t val)
{
	pci_dev_cfg_write(&f->vp.pci, off, len, val);
}

static uint8_t status(struct fixture *f)
{
	return (uint8_t)common_rd(f, VIRTIO_PCI_COMMON_STATUS, 1);
}

/* ------------------------------------------------------------ fixture ------------------------- */

/* Walks the capability list as a driver does (4.1.4), recording where each structure is. */
static void walk_caps(struct fixture *f)
{
	struct layout *l = &f->l;
	memset(l, 0, sizeof(*l));
	assert_true(cfg_rd(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	unsigned seen = 0;
	for (unsigned at = cfg_rd(f, PCI_CAPABILITY_LIST, 1); at; at = cfg_rd(f, at + 1, 1)) {
		/* A pointer is dword aligned and above the standard header (PCI 3.0, 6.7). */
		assert_true(at >= 0x40 && at < 0x100 && (at & 3) == 0);
		assert_true(++seen < 16);
		if (cfg_rd(f, at, 1) == PCI_CAP_ID_MSIX) {
			l->msix_cap = (uint8_t)at;
			continue;
		}
		assert_int_equal(cfg_rd(f, at, 1), PCI_CAP_ID_VNDR);
		assert_true(cfg_rd(f, at + VIRTIO_PCI_CAP_LEN, 1) >= 16);
		assert_int_equal(cfg_rd(f, at + VIRTIO_PCI_CAP_BAR, 1), 0);
		uint32_t off = cfg_rd(f, at + VIRTIO_PCI_CAP_OFFSET, 4);
		uint32_t len = cfg_rd(f, at + VIRTIO_PCI_CAP_LENGTH, 4);
		switch (cfg_rd(f, at + VIRTIO_PCI_CAP_CFG_TYPE, 1)) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			l->common_cap = (uint8_t)at, l->common = off, l->common_len = len;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			assert_true(cfg_rd(f, at + VIRTIO_PCI_CAP_LEN, 1) >= 20);
			l->notify_cap = (uint8_t)at, l->notify = off, l->notify_len = len;
			l->mult = cfg_rd(f, at + 16, 4); /* notify_off_multiplier */
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			l->isr_cap = (uint8_t)at, l->isr = off, l->isr_len = len;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			l->device_cap = (uint8_t)at, l->device = off, l->device_len = len;
			break;
		case VIRTIO_PCI_CAP_PCI_CFG:
			assert_true(cfg_rd(f, at + VIRTIO_PCI_CAP_LEN, 1) >= 20);
			l->pci_cap = (uint8_t)at;
			break;
		default:
			fail_msg("unknown virtio capability type at 0x%x", at);
		}
	}
}

static int setup_device(void **state, uint32_t device_id, uint32_t config_size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	gmem_init(&f->mem);
	assert_int_equal(gmem_add(&f->mem, 0, RAM_SIZE, f->ram, -1, 0), 0);
	f->dev_ops = (struct vmm_virtio_dev_ops){.name = "fake",
						 .device_id = device_id,
						 .config_size = config_size,
						 .config_read = dev_config_read,
						 .config_write = dev_config_write,
						 .activate = dev_activate,
						 .reset = dev_reset,
						 .kick = dev_kick,
						 .queue_irq_changed = dev_irq_changed};
	assert_int_equal(vmm_virtio_dev_init(&f->dev, &f->dev_ops, f, 0, NQ, QMAX, &f->io, &f->mem),
			 0);
	f->dev.device_features = FEATURES; /* exactly these, whatever vmmon adds to a device */
	for (unsigned i = 0; i < CFG_SIZE; i++)
		f->config[i] = (uint8_t)(0xc0 + i);
	struct vmm_irq intx = {.set = fake_intx, .ctx = f, .gsi = INTX_GSI};
	assert_int_equal(vmm_vpci_init(&f->vp, &f->dev, &fake_vpci_ops, intx, &fake_msix_ops, f),
			 0);
	walk_caps(f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_device(state, VIRTIO_ID_BLOCK, CFG_SIZE);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	vmm_vpci_destroy(&f->vp);
	vmm_virtio_dev_destroy(&f->dev);
	free(f->ram);
	free(f);
	return 0;
}

/* The driver's side of 3.1.1 up to FEATURES_OK, accepting VERSION_1 only. */
static void negotiate(struct fixture *f)
{
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 1); /* bit 32: VERSION_1 */
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT_OK);
}

static void enable_msix(struct fixture *f)
{
	cfg_wr(f, f->l.msix_cap + PCI_MSIX_FLAGS, 2, 0x8000); /* MSI-X Enable (PCI 3.0 6.8.2.3) */
	assert_true(f->vp.msix.enabled);
}

/* ------------------------------------------------------------ tests --------------------------- */

/* 4.1.2: vendor 0x1af4, device 0x1040 + the virtio ID, revision >= 1; 4.1.4: the capability
 * list holds each structure once, inside BAR 0, as large as the spec's layouts. */
static void test_identity_and_capabilities(void **state)
{
	struct fixture *f = *state;
	struct layout *l = &f->l;
	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1042); /* block device, ID 2 */
	assert_true(cfg_rd(f, PCI_REVISION_ID, 1) >= 1);
	assert_true(cfg_rd(f, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_int_equal(cfg_rd(f, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(cfg_rd(f, PCI_INTERRUPT_PIN, 1), 1); /* INTA# */
	assert_int_equal(cfg_rd(f, PCI_COMMAND, 2), 0);
	assert_true(l->common_cap && l->notify_cap && l->isr_cap && l->device_cap && l->pci_cap &&
		    l->msix_cap);
	/* BAR 0 is a 32-bit memory BAR; its size by the sizing protocol. */
	cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	uint32_t bar0_size = ~(cfg_rd(f, PCI_BASE_ADDRESS_0, 4) & ~0xfu) + 1;
	assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0, 4) & 0xf, 0);
	assert_true(bar0_size >= 0x1000);
	/* common_cfg runs through queue_used_hi: 56 bytes (4.1.4.3). */
	assert_true(l->common_len >= 56);
	assert_true(l->isr_len >= 1);
	assert_int_equal(l->device_len, CFG_SIZE);
	assert_true(l->mult >= 2 && (l->mult & (l->mult - 1)) == 0); /* even, a power of two */
	assert_true(l->notify_len >= (NQ - 1) * l->mult + 2);
	const uint32_t at[][2] = {{l->common, l->common_len},
				  {l->notify, l->notify_len},
				  {l->isr, l->isr_len},
				  {l->device, l->device_len}};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		assert_int_equal(at[i][0] % 4, 0);
		assert_true(at[i][0] + at[i][1] <= bar0_size);
		for (size_t j = 0; j < i; j++) /* no two structures overlap */
			assert_true(at[i][0] >= at[j][0] + at[j][1] ||
				    at[j][0] >= at[i][0] + at[i][1]);
	}
	/* MSI-X: N - 1 in the table size field, one vector per queue plus one for config. */
	assert_int_equal(cfg_rd(f, l->msix_cap + PCI_MSIX_FLAGS, 2) & 0x7ff, NQ);
	uint32_t table = cfg_rd(f, l->msix_cap + PCI_MSIX_TABLE, 4);
	uint32_t pba = cfg_rd(f, l->msix_cap + PCI_MSIX_PBA, 4);
	assert_int_equal(table & 7, 1); /* BIR: BAR 1 */
	assert_int_equal(pba & 7, 1);
	assert_true((table & ~7u) + (NQ + 1) * 16 <= (pba & ~7u)); /* the PBA follows the table */
}

/* A device with no configuration space has no device-config capability (4.1.4.6). */
static void test_no_device_config_capability(void **state)
{
	(void)state;
	void *st;
	assert_int_equal(setup_device(&st, VIRTIO_ID_RNG, 0), 0);
	struct fixture *f = st;
	assert_int_equal(cfg_rd(f, PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(f->l.device_cap, 0);
	assert_true(f->l.common_cap && f->l.notify_cap && f->l.isr_cap && f->l.pci_cap &&
		    f->l.msix_cap);
	teardown(&st);
}

/* device_feature shows 32 bits per device_feature_select value; driver_feature likewise. */
static void test_feature_selection(void **state)
{
	struct fixture *f = *state;
	static const uint32_t df[] = {0x10000020, 0x00000001, 0, 0};
	for (uint32_t sel = 0; sel < 4; sel++) {
		common_wr(f, VIRTIO_PCI_COMMON_DFSELECT, 4, sel);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DFSELECT, 4), sel);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), df[sel]);
	}
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0x10000000);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0x00000001);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_GFSELECT, 4), 1);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_GF, 4), 0x00000001);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_GF, 4), 0x10000000);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 2);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_GF, 4), 0);
	/* Rewriting one half leaves the other. */
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0);
	assert_int_equal(f->dev.driver_features, 0x100000000ull);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT_OK);
	assert_int_equal(f->dev.violations, 0);
	/* After FEATURES_OK the features are fixed (3.1.1): a write is a violation. */
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0x20);
	assert_int_equal(f->dev.driver_features, 0x100000000ull);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT_OK | S_NEEDS_RST);
}

/* 3.1.1 step 6: a feature set the device cannot take leaves FEATURES_OK clear on re-read. */
static void test_features_ok_refused_without_version_1(void **state)
{
	struct fixture *f = *state;
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER);
	common_wr(f, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0x20);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER);
	/* Features before DRIVER are a violation too. */
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	common_wr(f, VIRTIO_PCI_COMMON_GF, 4, 0x20);
	assert_int_equal(status(f), S_NEEDS_RST);
}

/* 4.1.4.3.1: writing 0 to device_status resets the device, which then reads 0. */
static void test_status_sequence_and_reset(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(status(f), 0);
	negotiate(f);
	common_wr(f, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	assert_int_equal(f->activates, 1);
	/* An interrupt is pending when the driver resets. */
	f->dev.tops->notify_config(&f->dev);
	assert_true(f->intx);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(status(f), 0);
	assert_int_equal(f->resets, 1);
	assert_false(f->intx);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), 0);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), NO_VECTOR);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	assert_int_equal(f->dev.driver_features, 0);
	/* Clearing a bit without a reset is a violation (2.1.1). */
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_NEEDS_RST);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(status(f), 0);
}

/* 4.1.4.3: num_queues is read-only; a queue_select past it reads queue_size 0 (no queue). */
static void test_queue_select_out_of_range(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	common_wr(f, VIRTIO_PCI_COMMON_NUMQ, 2, 9);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	for (unsigned q = 0; q < NQ; q++) {
		common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	}
	negotiate(f);
	static const uint16_t beyond[] = {NQ, NQ + 1, 0xffff};
	for (size_t i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
		common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, beyond[i]);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SELECT, 2), beyond[i]);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), NO_VECTOR);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	}
	assert_int_equal(f->dev.violations, 0);
	/* Programming a queue that does not exist is a violation. */
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	assert_int_equal(f->dev.violations, 1);
	assert_true(status(f) & S_NEEDS_RST);
}

/* Queue setup between FEATURES_OK and DRIVER_OK: size, the three ring addresses in 32-bit
 * halves or one 64-bit access, enable; queue_notify_off for the queue. */
static void test_queue_programming(void **state)
{
	struct fixture *f = *state;
	negotiate(f);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX); /* the maximum */
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x00011000);
	common_wr(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x00000002);
	common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 8, 0x0000000300012000ull);
	common_wr(f, VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0x00000004);
	common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x00013000);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x00011000);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x00000002);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4), 0x00012000);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_AVAILHI, 4), 0x00000003);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4), 0x00013000);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_USEDHI, 4), 0x00000004);
	assert_int_equal(f->dev.q[1].desc, 0x200011000ull);
	assert_int_equal(f->dev.q[1].driver, 0x300012000ull);
	assert_int_equal(f->dev.q[1].device, 0x400013000ull);
	/* queue_notify_off: the queue's address is cap.offset + queue_notify_off * multiplier. */
	uint32_t noff = (uint32_t)common_rd(f, VIRTIO_PCI_COMMON_Q_NOFF, 2);
	assert_true(noff * f->l.mult + 2 <= f->l.notify_len);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	assert_int_equal(f->dev.violations, 0);
	/* Other queues keep their own registers. */
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* An enabled queue is fixed: changing it is a violation and changes nothing. */
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	assert_int_equal(f->dev.violations, 1);
}

/* Queue registers are writable only after FEATURES_OK and before DRIVER_OK (device.c). */
static void test_queue_setup_window(void **state)
{
	struct fixture *f = *state;
	static const struct {
		unsigned reg, len;
		uint32_t val;
	} regs[] = {{VIRTIO_PCI_COMMON_Q_SIZE, 2, 16},
		    {VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000},
		    {VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x2000},
		    {VIRTIO_PCI_COMMON_Q_USEDHI, 4, 1},
		    {VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1}};
	/* Status 0, ACKNOWLEDGE, DRIVER: before FEATURES_OK; then after DRIVER_OK. */
	static const uint8_t before[] = {0, S_ACK, S_ACK | S_DRIVER};
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		for (size_t s = 0; s <= sizeof(before) / sizeof(before[0]); s++) {
			common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, 0);
			if (s < sizeof(before) / sizeof(before[0])) {
				if (before[s] & S_ACK)
					common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK);
				if (before[s] & S_DRIVER)
					common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, before[s]);
				assert_int_equal(status(f), before[s]);
			} else {
				negotiate(f);
				common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1,
					  S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
				assert_true(status(f) & S_DRIVER_OK);
			}
			uint64_t v = f->dev.violations;
			common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
			common_wr(f, regs[i].reg, regs[i].len, regs[i].val);
			assert_int_equal(f->dev.violations, v + 1);
			assert_true(status(f) & S_NEEDS_RST);
			assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
			assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
			assert_int_equal(f->dev.q[0].desc | f->dev.q[0].driver | f->dev.q[0].device,
					 0);
		}
	}
}

/* msix_config and queue_msix_vector take a vector the function has and read NO_VECTOR for one
 * it lacks (4.1.4.3.1, 4.1.5.1.2.1). NQ queues + config: vectors 0..NQ exist. */
static void test_vector_assignment(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), NO_VECTOR);
	static const struct {
		uint16_t write, read;
	} v[] = {{0, 0}, {NQ, NQ}, {NQ + 1, NO_VECTOR}, {0x7ff, NO_VECTOR}, {NO_VECTOR, NO_VECTOR}};
	negotiate(f);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		common_wr(f, VIRTIO_PCI_COMMON_MSIX, 2, v[i].write);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_MSIX, 2), v[i].read);
		for (unsigned q = 0; q < NQ; q++) {
			common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
			common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, v[i].write);
			assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), v[i].read);
		}
	}
	/* Vectors per queue are independent. */
	for (unsigned q = 0; q < NQ; q++) {
		common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1);
	}
	for (unsigned q = 0; q < NQ; q++) {
		common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_MSIX, 2), q + 1);
	}
	assert_int_equal(f->dev.violations, 0);
}

/* Brings queue 0 live on a ring in the fake guest's RAM. */
static void make_queue_0_live(struct fixture *f)
{
	negotiate(f);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 16);
	common_wr(f, VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x1000);
	common_wr(f, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, 0x2000);
	common_wr(f, VIRTIO_PCI_COMMON_Q_USEDLO, 4, 0x3000);
	common_wr(f, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	common_wr(f, VIRTIO_PCI_COMMON_STATUS, 1, S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEAT_OK | S_DRIVER_OK);
	assert_true(f->dev.q[0].live);
}

/* A live queue's device learns of a new vector, or of MSI-X going on or off; the irqfd it may
 * hand on is the vector's while MSI-X is on, none otherwise. */
static void test_vector_change_on_live_queue(void **state)
{
	struct fixture *f = *state;
	make_queue_0_live(f);
	struct vmm_virtio_queue *q = &f->dev.q[0];
	assert_int_equal(f->dev.tops->queue_irqfd(&f->dev, q), -1);
	common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	assert_int_equal(f->irq_changed[0], 1);
	common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1); /* unchanged */
	assert_int_equal(f->irq_changed[0], 1);
	assert_int_equal(f->dev.tops->queue_irqfd(&f->dev, q), -1); /* MSI-X off */
	enable_msix(f);
	assert_int_equal(f->irq_changed[0], 2);
	assert_int_equal(f->irq_changed[1], 0); /* not live */
	assert_int_equal(f->dev.tops->queue_irqfd(&f->dev, q), f->vp.msix.vec[1].efd);
	common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, NO_VECTOR);
	assert_int_equal(f->irq_changed[0], 3);
	assert_int_equal(f->dev.tops->queue_irqfd(&f->dev, q), -1);
	assert_int_equal(f->dev.violations, 0);
}

/* 4.1.4.5: without MSI-X a notification sets an ISR bit and asserts INTx; reading the ISR
 * returns the bits, clears them and deasserts INTx. */
static void test_isr_read_to_clear(void **state)
{
	struct fixture *f = *state;
	negotiate(f);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), 0);
	f->dev.tops->notify_queue(&f->dev, &f->dev.q[0]);
	assert_true(f->intx);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), ISR_QUEUE);
	assert_false(f->intx);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), 0);
	f->dev.tops->notify_config(&f->dev);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), ISR_CONFIG);
	f->dev.tops->notify_queue(&f->dev, &f->dev.q[2]);
	f->dev.tops->notify_config(&f->dev);
	/* A write does not clear it; a read past the ISR byte neither. */
	bar0_wr(f, f->l.isr, 1, 0);
	uint64_t bad = f->vp.bad_accesses;
	assert_int_equal(bar0_rd(f, f->l.isr + 4, 4), 0xffffffff);
	assert_int_equal(f->vp.bad_accesses, bad + 1);
	assert_true(f->intx);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), ISR_QUEUE | ISR_CONFIG);
	assert_false(f->intx);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), 0);
	assert_int_equal(f->nr_msis, 0);
}

/* With MSI-X on, notifications go to the assigned vectors; NO_VECTOR sends nothing
 * (4.1.5.1.2), and the ISR and INTx stay quiet. */
static void test_msix_notifications(void **state)
{
	struct fixture *f = *state;
	negotiate(f);
	enable_msix(f);
	common_wr(f, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	common_wr(f, VIRTIO_PCI_COMMON_Q_MSIX, 2, 3);
	f->dev.tops->notify_queue(&f->dev, &f->dev.q[2]);
	f->dev.tops->notify_config(&f->dev);
	f->dev.tops->notify_queue(&f->dev, &f->dev.q[1]); /* NO_VECTOR */
	assert_int_equal(f->nr_msis, 2);
	assert_int_equal(f->msis[0], 3);
	assert_int_equal(f->msis[1], 0);
	assert_int_equal(f->intx_sets, 0);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), 0);
}

/* 4.1.4.4: queue n's notification address is notify + queue_notify_off * multiplier. These
 * writes trap only without an ioeventfd; they kick the queue all the same. */
static void test_notifications(void **state)
{
	struct fixture *f = *state;
	negotiate(f);
	static const unsigned order[] = {2, 0, 1, 1};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		common_wr(f, VIRTIO_PCI_COMMON_Q_SELECT, 2, order[i]);
		uint32_t noff = (uint32_t)common_rd(f, VIRTIO_PCI_COMMON_Q_NOFF, 2);
		bar0_wr(f, f->l.notify + noff * f->l.mult, 2, order[i]);
	}
	assert_int_equal(f->nr_kicks, 4);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		assert_int_equal(f->kicks[i], order[i]);
	/* Past the last queue: nothing kicked, counted. The area is write-only. */
	uint64_t bad = f->vp.bad_accesses;
	bar0_wr(f, f->l.notify + NQ * f->l.mult, 2, NQ);
	assert_int_equal(f->nr_kicks, 4);
	assert_int_equal(bar0_rd(f, f->l.notify, 2), 0xffff);
	assert_int_equal(f->vp.bad_accesses, bad + 2);
}

/* 4.1.4.3: config_generation changes when the device configuration may have changed; here a
 * violation marks NEEDS_RESET, which the driver then sees with a config interrupt. */
static void test_config_generation(void **state)
{
	struct fixture *f = *state;
	make_queue_0_live(f);
	uint8_t gen = (uint8_t)common_rd(f, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), gen);
	common_wr(f, VIRTIO_PCI_COMMON_CFGGENERATION, 1, gen + 5); /* read-only */
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), gen);
	common_wr(f, VIRTIO_PCI_COMMON_Q_SIZE, 2, 8); /* after DRIVER_OK */
	assert_int_not_equal(common_rd(f, VIRTIO_PCI_COMMON_CFGGENERATION, 1), gen);
	assert_true(status(f) & S_NEEDS_RST);
	assert_int_equal(bar0_rd(f, f->l.isr, 1), ISR_CONFIG);
}

/* 4.1.4.6: the device-specific configuration at its capability's offset, at any width inside
 * its length; beyond it nothing answers. */
static void test_device_config_window(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bar0_rd(f, f->l.device, 1), 0xc0);
	assert_int_equal(bar0_rd(f, f->l.device + 2, 2), 0xc3c2);
	assert_int_equal(bar0_rd(f, f->l.device + 4, 4), 0xc7c6c5c4);
	assert_int_equal(bar0_rd(f, f->l.device, 8), 0xc7c6c5c4c3c2c1c0ull);
	bar0_wr(f, f->l.device + 6, 2, 0xbeef);
	assert_int_equal(f->config_writes, 1);
	assert_int_equal(bar0_rd(f, f->l.device + 4, 4), 0xbeefc5c4);
	unsigned reads = f->config_reads;
	uint64_t bad = f->vp.bad_accesses;
	assert_int_equal(bar0_rd(f, f->l.device + 6, 4), 0xffffffff);
	assert_int_equal(bar0_rd(f, f->l.device + CFG_SIZE, 1), 0xff);
	bar0_wr(f, f->l.device + CFG_SIZE, 4, 0);
	assert_int_equal(f->config_reads, reads);
	assert_int_equal(f->config_writes, 1);
	assert_int_equal(f->vp.bad_accesses, bad + 3);
}

/* Widths above a qword are refused; reads nothing decodes return all ones; writes to
 * read-only common fields change nothing; all are counted. */
static void test_bad_widths_and_unhandled(void **state)
{
	struct fixture *f = *state;
	uint8_t big[16];
	memset(big, 0, sizeof(big));
	assert_int_equal(vmm_vpci_bar0_access(&f->vp, f->l.common, big, 16, false), -EINVAL);
	assert_int_equal(vmm_vpci_bar0_access(&f->vp, f->l.common, big, 16, true), -EINVAL);
	assert_int_equal(f->vp.bad_accesses, 2);
	/* Past the 56 bytes of the structure. */
	assert_int_equal(common_rd(f, 56, 4), 0xffffffff);
	assert_int_equal(common_rd(f, 0x100, 2), 0xffff);
	assert_int_equal(common_rd(f, 52, 8), ~0ull); /* straddles the end */
	assert_int_equal(f->vp.bad_accesses, 5);
	uint32_t df = (uint32_t)common_rd(f, VIRTIO_PCI_COMMON_DF, 4);
	common_wr(f, VIRTIO_PCI_COMMON_DF, 4, ~df);
	common_wr(f, VIRTIO_PCI_COMMON_Q_NOFF, 2, 7);
	common_wr(f, 56, 4, 0);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_DF, 4), df);
	assert_int_equal(common_rd(f, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
	assert_int_equal(f->vp.bad_accesses, 8);
	assert_int_equal(f->dev.violations, 0);
	assert_int_equal(status(f), 0);
}

/* 4.1.4.9: pci_cfg_data is a window onto the BAR, offset and length chosen in the capability;
 * lengths 1, 2 and 4, naturally aligned, in BAR 0. */
static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	unsigned cap = f->l.pci_cap, data = cap + 16;
	cfg_wr(f, cap + VIRTIO_PCI_CAP_BAR, 1, 0);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_OFFSET, 4, f->l.common + VIRTIO_PCI_COMMON_STATUS);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
	cfg_wr(f, data, 1, S_ACK);
	assert_int_equal(status(f), S_ACK);
	assert_int_equal(cfg_rd(f, data, 1), S_ACK);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_OFFSET, 4, f->l.common + VIRTIO_PCI_COMMON_NUMQ);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
	assert_int_equal(cfg_rd(f, data, 2), NQ);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_OFFSET, 4, f->l.device + 4);
	cfg_wr(f, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	assert_int_equal(cfg_rd(f, data, 4), 0xc7c6c5c4);
	/* Bad length, misaligned, another BAR: the window reads 0 and reaches nothing. */
	static const uint32_t bad[][3] = {{0, 4, 3}, {0, 2, 4}, {0, 1, 2}, {1, 0, 4}};
	unsigned reads = f->config_reads;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg_wr(f, cap + VIRTIO_PCI_CAP_BAR, 1, bad[i][0]);
		cfg_wr(f, cap + VIRTIO_PCI_CAP_OFFSET, 4, f->l.device + bad[i][1]);
		cfg_wr(f, cap + VIRTIO_PCI_CAP_LENGTH, 4, bad[i][2]);
		assert_int_equal(cfg_rd(f, data, 4), 0);
	}
	assert_int_equal(f->config_reads, reads);
}

/* The command register and BARs 0-1 move the traps; other config writes do not. BAR sizing
 * reads back the size mask (PCI 3.0 6.2.5.1). */
static void test_remap_and_bar_sizing(void **state)
{
	struct fixture *f = *state;
	cfg_wr(f, PCI_INTERRUPT_LINE, 1, 5);
	cfg_wr(f, PCI_CACHE_LINE_SIZE, 1, 16);
	assert_int_equal(f->remaps, 0);
	cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(f->remaps, 1);
	cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(f->remaps, 2);
	cfg_wr(f, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(f->remaps, 3);
	cfg_wr(f, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	assert_int_equal(f->remaps, 3);
	/* 16 KiB and 4 KiB of 32-bit memory; BAR 2 is not implemented. */
	assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_0, 4), 0xffffc000);
	assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_1, 4), 0xfffff000);
	assert_int_equal(cfg_rd(f, PCI_BASE_ADDRESS_2, 4), 0);
	cfg_wr(f, PCI_BASE_ADDRESS_0, 4, 0xc0004000);
	assert_int_equal(pci_dev_bar_addr(&f->vp.pci, 0), 0xc0004000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_identity_and_capabilities),
		cmocka_unit_test(test_no_device_config_capability),
		T(test_feature_selection),
		T(test_features_ok_refused_without_version_1),
		T(test_status_sequence_and_reset),
		T(test_queue_select_out_of_range),
		T(test_queue_programming),
		T(test_queue_setup_window),
		T(test_vector_assignment),
		T(test_vector_change_on_live_queue),
		T(test_isr_read_to_clear),
		T(test_msix_notifications),
		T(test_notifications),
		T(test_config_generation),
		T(test_device_config_window),
		T(test_bad_widths_and_unhandled),
		T(test_pci_cfg_window),
		T(test_remap_and_bar_sizing),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
