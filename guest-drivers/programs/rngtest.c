// SPDX-License-Identifier: MIT
/*
 * rngtest: reads 4 KiB from the first virtio-rng device and checks that it is not one byte
 * repeated (a device that fills nothing leaves zeros). Arguments: mode=irq|poll, ring=packed,
 * irq=intx, transport=pci|mmio.
 */
#include "drivers/virtio_rng.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/programs.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

#define WANT		4096
#define READ_TIMEOUT_US 10000000
#define MAX_REQUESTS	1024 /* a device may return little per request, but not nothing forever */

int g_rngtest_main(struct g_run *run)
{
	struct g_vprog p;
	struct g_vrng r;
	uint8_t *buf;
	uint32_t got = 0;
	unsigned int requests = 0;
	bool constant = true;
	int rc;

	if (g_vprog_open(run, &p, "rng", VIRTIO_ID_RNG))
		return -1;
	rc = g_vrng_init(&r, p.dev, &p.opts);
	if (rc)
		return g_run_fail(run, "virtio-rng set-up failed (error %d)", rc);
	g_vprog_report(&p);
	buf = g_mem_alloc(WANT, 64);
	if (!buf)
		return g_run_fail(run, "out of memory");
	while (got < WANT && requests++ < MAX_REQUESTS) {
		rc = g_vrng_read(&r, buf + got, WANT - got, READ_TIMEOUT_US);
		if (rc < 0)
			return g_run_fail(run, "reading the rng failed (error %d)", rc);
		got += (uint32_t)rc;
	}
	if (got < WANT)
		return g_run_fail(run, "only %u bytes in %u requests", got, MAX_REQUESTS);
	for (uint32_t i = 1; i < WANT; i++)
		constant = constant && buf[i] == buf[0];
	if (constant)
		return g_run_fail(run, "4096 bytes of 0x%02x: not random", buf[0]);
	g_printf("rng: %u bytes\n", got);
	g_printf("time: rng: %u request(s)\n", requests);
	g_virtio_reset(p.dev);
	return 0;
}
