// SPDX-License-Identifier: MIT
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stddef.h>

#include "drivers/tsc.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/vdev.h"
#include "runtime/platform.h"

static const char *arg_or_null(const char *key)
{
	const char *v = g_arg(key);

	return v && *v ? v : NULL;
}

/* One on/off option: its key, the values that mean on and off, and where it goes. */
struct option {
	const char *key, *on, *off;
	size_t field; /* offset of the bool in struct g_virtio_opts, false by default */
};

static const struct option options[] = {
	{"mode", "poll", "irq", offsetof(struct g_virtio_opts, poll)},
	{"irq", "intx", "msix", offsetof(struct g_virtio_opts, intx)},
	{"ring", "packed", "split", offsetof(struct g_virtio_opts, packed)},
	{"event_idx", "off", "on", offsetof(struct g_virtio_opts, no_event_idx)},
	{"indirect", "off", "on", offsetof(struct g_virtio_opts, no_indirect)},
};

/* The options from the command line; the key of a bad value in *bad. */
static int opts_from_args(struct g_virtio_opts *o, const char **bad)
{
	memset(o, 0, sizeof(*o));
	o->transport = arg_or_null("transport");
	if (o->transport && strcmp(o->transport, "pci") && strcmp(o->transport, "mmio")) {
		*bad = "transport";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		const struct option *op = &options[i];
		const char *v = arg_or_null(op->key);
		bool *field = (bool *)((char *)o + op->field);

		if (v && !strcmp(v, op->on))
			*field = true;
		else if (v && strcmp(v, op->off)) {
			*bad = op->key;
			return -EINVAL;
		}
	}
	return 0;
}

static const char *type_name(uint32_t id)
{
	switch (id) {
	case 1:
		return "virtio-net";
	case 2:
		return "virtio-blk";
	case 3:
		return "virtio-console";
	case 4:
		return "virtio-rng";
	default:
		return "virtio";
	}
}

int g_vprog_open_nth(struct g_run *run, struct g_vprog *p, const char *name, uint32_t device_id,
		     unsigned int index)
{
	const char *bad = NULL;
	int rc;

	p->name = name;
	if (opts_from_args(&p->opts, &bad))
		return g_run_fail(run, "bad %s=%s", bad, g_arg(bad));
	if (g_platform.mp_err)
		return g_run_fail(run, "no usable MP table (error %d)", g_platform.mp_err);
	rc = index ? 0 : g_tsc_calibrate(); /* once: the first device's open did it */
	if (rc)
		return g_run_fail(run, "PIT channel 2 did not count down (error %d)", rc);
	rc = g_virtio_find(&p->t, device_id, index, &p->opts, &p->dev);
	if (rc == -ENOTSUP)
		return g_run_fail(run, "the %s device is legacy only (virtio-mmio version 1)",
				  type_name(device_id));
	if (rc) {
		char nth[24] = "";

		if (index)
			g_snprintf(nth, sizeof(nth), " number %u", index + 1);
		return g_run_fail(run, "no %s device%s%s%s (error %d)", type_name(device_id), nth,
				  p->opts.transport ? " on " : "",
				  p->opts.transport ? p->opts.transport : "", rc);
	}
	g_printf("mem: %s: %s at %s\n", name, type_name(device_id), p->dev->where);
	return 0;
}

int g_vprog_open(struct g_run *run, struct g_vprog *p, const char *name, uint32_t device_id)
{
	return g_vprog_open_nth(run, p, name, device_id, 0);
}

int g_vprog_open_legacy(struct g_run *run, const char *dev, bool *poll)
{
	static const char *const virtio_only[] = {"transport", "irq",	   "ring",
						  "event_idx", "indirect", "revector"};
	const char *mode = arg_or_null("mode");
	int rc;

	for (size_t i = 0; i < sizeof(virtio_only) / sizeof(virtio_only[0]); i++) {
		if (g_arg(virtio_only[i]))
			return g_run_fail(run, "%s= is a virtio option; dev=%s has none",
					  virtio_only[i], dev);
	}
	if (mode && strcmp(mode, "irq") && strcmp(mode, "poll"))
		return g_run_fail(run, "bad mode=%s", mode);
	*poll = mode && !strcmp(mode, "poll");
	if (g_platform.mp_err)
		return g_run_fail(run, "no usable MP table (error %d)", g_platform.mp_err);
	rc = g_tsc_calibrate();
	if (rc)
		return g_run_fail(run, "PIT channel 2 did not count down (error %d)", rc);
	return 0;
}

static const char *on_off(bool on)
{
	return on ? "on" : "off";
}

void g_vprog_report(const struct g_vprog *p)
{
	const struct g_virtio_dev *d = p->dev;
	bool packed = g_virtio_has(d, VIRTIO_F_RING_PACKED);

	g_printf("%s: ring %s%s, event_idx %s, indirect %s, interrupts %s\n", p->name,
		 packed ? "packed" : "split",
		 p->opts.packed && !packed ? " (packed not offered)" : "",
		 on_off(g_virtio_has(d, VIRTIO_RING_F_EVENT_IDX)),
		 on_off(g_virtio_has(d, VIRTIO_RING_F_INDIRECT_DESC)),
		 g_virtio_irq_mode_name(d->irq_mode));
}
