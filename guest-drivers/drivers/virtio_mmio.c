// SPDX-License-Identifier: MIT
/*
 * virtio-mmio version 2 transport. Register names are Linux's <linux/virtio_mmio.h>; every
 * register is 32 bits wide except the device configuration space, read at the field's width.
 */
#include <linux/virtio_mmio.h>

#include "drivers/virtio_mmio.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "runtime/bootinfo.h"
#include "runtime/mem.h"
#include "runtime/platform.h"

#define REGS_MIN_SIZE VIRTIO_MMIO_CONFIG /* the registers before the config space */

static struct g_virtio_mmio *to_vm(struct g_virtio_dev *d)
{
	return (struct g_virtio_mmio *)d; /* vdev is the first member */
}

static uint32_t rd(struct g_virtio_dev *d, unsigned int reg)
{
	return g_mmio_read32(to_vm(d)->base + reg);
}

static void wr(struct g_virtio_dev *d, unsigned int reg, uint32_t v)
{
	g_mmio_write32(to_vm(d)->base + reg, v);
}

static uint8_t get_status(struct g_virtio_dev *d)
{
	return (uint8_t)rd(d, VIRTIO_MMIO_STATUS);
}

static void set_status(struct g_virtio_dev *d, uint8_t status)
{
	wr(d, VIRTIO_MMIO_STATUS, status);
}

static uint64_t get_features(struct g_virtio_dev *d)
{
	uint64_t f;

	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void set_features(struct g_virtio_dev *d, uint64_t f)
{
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint32_t config_generation(struct g_virtio_dev *d)
{
	return rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

static uint32_t config_read(struct g_virtio_dev *d, unsigned int off, unsigned int len)
{
	struct g_virtio_mmio *vm = to_vm(d);
	uintptr_t a = vm->base + VIRTIO_MMIO_CONFIG + off;

	if (VIRTIO_MMIO_CONFIG + off + len > vm->size || (off & (len - 1)))
		return 0xffffffff;
	if (len == 1)
		return g_mmio_read8(a);
	if (len == 2)
		return g_mmio_read16(a);
	return g_mmio_read32(a);
}

static uint16_t queue_max(struct g_virtio_dev *d, uint16_t index)
{
	uint32_t max;

	wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (rd(d, VIRTIO_MMIO_QUEUE_READY))
		return 0; /* 4.2.3.2: a queue in use after a reset is a broken device */
	max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	return max > 0xffff ? 0xffff : (uint16_t)max;
}

static void write64(struct g_virtio_dev *d, unsigned int lo, uint64_t v)
{
	wr(d, lo, (uint32_t)v);
	wr(d, lo + 4, (uint32_t)(v >> 32));
}

static int queue_enable(struct g_virtio_dev *d, struct g_virtq *q)
{
	wr(d, VIRTIO_MMIO_QUEUE_SEL, q->index);
	wr(d, VIRTIO_MMIO_QUEUE_NUM, q->num);
	write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, q->drv.cfg.desc);
	write64(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q->drv.cfg.driver);
	write64(d, VIRTIO_MMIO_QUEUE_USED_LOW, q->drv.cfg.device);
	wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return 0;
}

static void notify(struct g_virtio_dev *d, struct g_virtq *q)
{
	/* The ring stores before it are ordered by vq_drv_kick_prepare's barrier. */
	wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

static void irq_ack(struct g_virtio_dev *d)
{
	uint32_t status = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);

	if (status)
		wr(d, VIRTIO_MMIO_INTERRUPT_ACK, status); /* drops the line (4.2.2.1) */
}

static int irq_setup(struct g_virtio_dev *d, const struct g_virtio_opts *o, unsigned int nq)
{
	int rc;

	(void)o, (void)nq;
	rc = g_platform_route_gsi(to_vm(d)->irq, &d->vector[0]);
	if (rc)
		return rc;
	d->nvectors = 1;
	d->irq_mode = G_VIRTIO_IRQ_LINE;
	return 0;
}

static const struct g_virtio_ops mmio_ops = {
	.get_status = get_status,
	.set_status = set_status,
	.get_features = get_features,
	.set_features = set_features,
	.config_generation = config_generation,
	.config_read = config_read,
	.queue_max = queue_max,
	.queue_enable = queue_enable,
	.notify = notify,
	.irq_setup = irq_setup,
	.irq_ack = irq_ack,
};

/* An unsigned number, decimal or 0x-hexadecimal; advances *s. -EINVAL without digits. */
static int parse_num(const char **s, uint64_t *out)
{
	const char *p = *s;
	unsigned int base = 10;
	uint64_t v = 0;
	bool any = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, any = true) {
		unsigned int digit;

		if (*p >= '0' && *p <= '9')
			digit = (unsigned int)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			digit = (unsigned int)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			digit = (unsigned int)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - digit) / base)
			return -EINVAL;
		v = v * base + digit;
	}
	if (!any)
		return -EINVAL;
	*s = p;
	*out = v;
	return 0;
}

int g_virtio_mmio_parse(const char *s, uint64_t *size, uint64_t *addr, unsigned int *irq)
{
	unsigned int shift = 0;
	uint64_t n, id;

	if (parse_num(&s, size))
		return -EINVAL;
	switch (*s) {
	case 'G':
	case 'g':
		shift += 10; /* fall through */
	case 'M':
	case 'm':
		shift += 10; /* fall through */
	case 'K':
	case 'k':
		shift += 10;
		s++;
		break;
	}
	if (!*size || *size > (UINT64_MAX >> shift))
		return -EINVAL;
	*size <<= shift;
	if (*s++ != '@' || parse_num(&s, addr) || *s++ != ':' || parse_num(&s, &n))
		return -EINVAL;
	if (n > 0xffff || *addr + *size < *addr)
		return -EINVAL;
	*irq = (unsigned int)n;
	if (*s == ':' && (s++, parse_num(&s, &id))) /* the platform device ID: unused */
		return -EINVAL;
	return *s ? -EINVAL : 0;
}

/* Checks one announced device: version 2 and of the wanted type. */
static int try_device(struct g_virtio_mmio *vm, const char *spec, uint32_t device_id)
{
	uint32_t version;
	void *base;

	if (g_virtio_mmio_parse(spec, &vm->size, &vm->paddr, &vm->irq) || vm->size < REGS_MIN_SIZE)
		return -EINVAL;
	base = g_mmio_map(vm->paddr, vm->size);
	if (!base)
		return -ENOMEM;
	vm->base = (uintptr_t)base;
	if (rd(&vm->vdev, VIRTIO_MMIO_MAGIC_VALUE) != G_VIRTIO_MMIO_MAGIC ||
	    rd(&vm->vdev, VIRTIO_MMIO_DEVICE_ID) != device_id)
		return -ENODEV; /* device ID 0 is an empty slot */
	version = rd(&vm->vdev, VIRTIO_MMIO_VERSION);
	return version == 2 ? 0 : -ENOTSUP;
}

int g_virtio_mmio_probe(struct g_virtio_mmio *vm, uint32_t device_id, unsigned int *skip)
{
	int result = -ENODEV;

	memset(vm, 0, sizeof(*vm));
	for (unsigned int i = 0; i < g_boot.args.count; i++) {
		const struct g_arg *a = &g_boot.args.arg[i];
		int rc;

		if (strcmp(a->key, G_VIRTIO_MMIO_ARG))
			continue;
		rc = try_device(vm, a->value, device_id);
		if (rc == -ENOTSUP)
			result = rc;
		if (rc)
			continue;
		if (*skip) {
			(*skip)--;
			continue;
		}
		vm->vdev.ops = &mmio_ops;
		vm->vdev.device_id = device_id;
		g_snprintf(vm->vdev.where, sizeof(vm->vdev.where), "mmio 0x%lx irq %u",
			   (unsigned long)vm->paddr, vm->irq);
		return 0;
	}
	return result;
}
