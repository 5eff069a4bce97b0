// SPDX-License-Identifier: MIT
/*
 * contest: writes "virtio-console: hello from the guest\n" to port 0 of the first
 * virtio-console device, reads one line back from it and prints it on the serial console.
 * Arguments: seconds=S to wait for the line (default 30), mode=irq|poll, ring=packed,
 * irq=intx, transport=pci|mmio.
 */
#include "drivers/tsc.h"
#include "drivers/virtio_console.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/programs.h"
#include "programs/vdev.h"

#define HELLO		 "virtio-console: hello from the guest\n"
#define LINE_MAX	 128
#define WRITE_TIMEOUT_US 10000000

/* Reads bytes until a non-empty line ends; "\r" is dropped, the rest of an overlong line too. */
static int read_line(struct g_run *run, struct g_vcons *c, char *line, uint64_t deadline)
{
	unsigned int len = 0;
	char chunk[64];

	for (;;) {
		int n = g_vcons_read(c, chunk, sizeof(chunk), deadline);

		if (n == -ETIMEDOUT)
			return g_run_fail(run, "no line from the console in time");
		if (n < 0)
			return g_run_fail(run, "reading the console failed (error %d)", n);
		for (int i = 0; i < n; i++) {
			if (chunk[i] == '\n' && len) {
				line[len] = '\0';
				return 0; /* bytes after the line are not needed */
			}
			if (chunk[i] != '\r' && chunk[i] != '\n' && len < LINE_MAX - 1)
				line[len++] = chunk[i];
		}
	}
}

int g_contest_main(struct g_run *run)
{
	struct g_vprog p;
	struct g_vcons c;
	unsigned int seconds;
	char line[LINE_MAX];
	int rc;

	if (g_arg_uint("seconds", 30, &seconds))
		return g_run_fail(run, "bad seconds=%s", g_arg("seconds"));
	if (g_vprog_open(run, &p, "console", VIRTIO_ID_CONSOLE))
		return -1;
	rc = g_vcons_init(&c, p.dev, &p.opts);
	if (rc)
		return g_run_fail(run, "virtio-console set-up failed (error %d)", rc);
	g_vprog_report(&p);
	rc = g_vcons_write(&c, HELLO, sizeof(HELLO) - 1, WRITE_TIMEOUT_US);
	if (rc)
		return g_run_fail(run, "writing to the console failed (error %d)", rc);
	g_printf("contest: hello written\n");
	rc = read_line(run, &c, line, g_tsc_deadline((uint64_t)seconds * 1000000));
	if (!rc)
		g_printf("contest: got %s\n", line);
	if (!rc && c.rx_bad)
		rc = g_run_fail(run, "%lu receive buffer(s) came back with a bad length",
				(unsigned long)c.rx_bad);
	g_virtio_reset(p.dev);
	return rc;
}
