/* SPDX-License-Identifier: MIT */
/*
 * The API's routes and the VM's states, through the handler as the server calls it: methods,
 * unknown routes, no VM (404), state errors (500), a second create, cold plug before boot, and,
 * with /dev/kvm and the guest image (argv[1]), a real VM: boot, pause (its disk and counters
 * stand still), resume, shutdown, boot again, delete, with the events they write.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/ctl.h"

static struct vmm_vm vm;
static struct vmm_ctl ctl;
static const char *guest;
static char dir[64];

static int call(const char *method, const char *endpoint, const char *body, char **out)
{
	struct vmm_api_request req = {.method = method,
				      .endpoint = endpoint,
				      .body = body ? body : "",
				      .body_len = body ? strlen(body) : 0};
	struct vmm_api_response resp = {0};
	vmm_routes_handle(&ctl, &req, &resp);
	if (out)
		*out = resp.body;
	else
		free(resp.body);
	return resp.status;
}

static int setup(void **state)
{
	(void)state;
	vmm_ctl_init(&ctl, &vm, eventfd(0, EFD_CLOEXEC));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vmm_ctl_delete(&ctl);
	close(ctl.quit_fd);
	return 0;
}

static void methods_and_routes(void **state)
{
	(void)state;
	char *body;
	assert_int_equal(call("PUT", "vm.info", NULL, &body), 400);
	assert_non_null(strstr(body, "GET"));
	free(body);
	assert_int_equal(call("GET", "vm.boot", NULL, NULL), 400);
	assert_int_equal(call("POST", "vm.create", "{}", NULL), 400);
	assert_int_equal(call("GET", "vm.nothing", NULL, NULL), 0); /* the server's 404 */
	assert_int_equal(call("PUT", "vm.pause", "{}", NULL), 400); /* takes no body */
	assert_int_equal(call("PUT", "vm.snapshot", "{}", &body), 500);
	assert_non_null(strstr(body, "not supported yet"));
	free(body);
}

static void no_vm(void **state)
{
	(void)state;
	static const char *const puts[] = {"vm.boot", "vm.pause", "vm.resume", "vm.shutdown",
					   "vm.reboot"};
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		assert_int_equal(call("PUT", puts[i], NULL, NULL), 404);
	assert_int_equal(call("GET", "vm.info", NULL, NULL), 404);
	assert_int_equal(call("GET", "vm.counters", NULL, NULL), 404);
	assert_int_equal(call("PUT", "vm.add-disk", "{\"path\":\"/d\"}", NULL), 404);
	assert_int_equal(call("PUT", "vm.delete", NULL, NULL), 204);
}

static void created_states(void **state)
{
	(void)state;
	char *body;
	const char *cfg = "{\"payload\":{\"kernel\":\"/nonexistent\"},\"disks\":[{\"path\":\"/d\","
			  "\"id\":\"d0\"}]}";
	assert_int_equal(call("PUT", "vm.create", "{\"payload\":{}}", NULL), 400);
	assert_int_equal(call("PUT", "vm.create", "[1]", NULL), 400);
	assert_int_equal(call("PUT", "vm.create", cfg, NULL), 204);
	/* A second create: Cloud Hypervisor's VmAlreadyCreated, a 500. */
	assert_int_equal(call("PUT", "vm.create", cfg, &body), 500);
	assert_non_null(strstr(body, "already"));
	free(body);
	assert_int_equal(call("PUT", "vm.pause", NULL, &body), 500);
	assert_non_null(strstr(body, "Created"));
	free(body);
	assert_int_equal(call("PUT", "vm.resume", NULL, NULL), 500);
	assert_int_equal(call("PUT", "vm.shutdown", NULL, NULL), 500);
	assert_int_equal(call("GET", "vm.counters", NULL, NULL), 500);
	assert_int_equal(call("PUT", "vm.add-disk", "{\"path\":\"/e\",\"id\":\"d0\"}", NULL), 409);
	assert_int_equal(call("PUT", "vm.add-disk", "{\"path\":\"/e\",\"id\":\"d1\"}", NULL), 204);
	assert_int_equal(call("PUT", "vm.add-net", "{\"tap\":\"t0\",\"nope\":1}", &body), 400);
	assert_non_null(strstr(body, "NetConfig.nope"));
	free(body);
	assert_int_equal(call("GET", "vm.info", NULL, &body), 200);
	assert_non_null(strstr(body, "\"state\":\"Created\""));
	assert_non_null(strstr(body, "\"id\":\"d1\""));
	free(body);
	/* Files that are not there: the boot fails, the VM stays created. */
	assert_int_equal(call("PUT", "vm.boot", NULL, &body), 500);
	if (!strstr(body, "cannot boot the VM") || !strstr(body, "/d"))
		fail_msg("%s", body);
	free(body);
	assert_int_equal(call("GET", "vm.info", NULL, &body), 200);
	assert_non_null(strstr(body, "\"state\":\"Created\""));
	free(body);
	assert_int_equal(call("PUT", "vm.delete", NULL, NULL), 204);
	assert_int_equal(call("GET", "vm.info", NULL, NULL), 404);
}

static uint64_t counter(const char *id, const char *name)
{
	char *body;
	assert_int_equal(call("GET", "vm.counters", NULL, &body), 200);
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":{", id);
	const char *at = strstr(body, key);
	assert_non_null(at);
	snprintf(key, sizeof(key), "\"%s\":", name);
	at = strstr(at, key);
	assert_non_null(at);
	uint64_t v = strtoull(at + strlen(key), NULL, 10);
	free(body);
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A cheap fingerprint of the disk file's contents. */
static uint64_t disk_sum(const char *path)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint64_t h = 1469598103934665603ull;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static const char *state_of(void)
{
	static char s[16];
	char *body;
	assert_int_equal(call("GET", "vm.info", NULL, &body), 200);
	const char *at = strstr(body, "\"state\":\"");
	assert_non_null(at);
	snprintf(s, sizeof(s), "%.*s", (int)strcspn(at + 9, "\""), at + 9);
	free(body);
	return s;
}

/* Waits up to `ms` for the guest's write count to pass `min`. */
static uint64_t wait_writes(uint64_t min, long ms)
{
	uint64_t w = 0;
	for (long t = 0; t < ms && (w = counter("d0", "write_ops")) <= min; t += 50)
		sleep_ms(50);
	return w;
}

static void real_vm(void **state)
{
	(void)state;
	if (!guest || access("/dev/kvm", R_OK | W_OK)) {
		print_message("no guest image or no /dev/kvm: the real VM part is not run\n");
		if (guest)
			skip();
		return;
	}
	char disk[96], serial[96], events[96], cfg[512];
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	snprintf(serial, sizeof(serial), "%s/serial.log", dir);
	snprintf(events, sizeof(events), "%s/events", dir);
	int fd = open(disk, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 32 << 20), 0);
	close(fd);
	struct host_err err = {{0}};
	assert_int_equal(vmm_events_open(&(struct vmm_event_opts){.path = events, .fd = -1}, &err),
			 0);
	snprintf(cfg, sizeof(cfg),
		 "{\"payload\":{\"kernel\":\"%s\",\"cmdline\":\"run=blktest seconds=60 qd=4\"},"
		 "\"memory\":{\"size\":134217728},\"disks\":[{\"path\":\"%s\",\"id\":\"d0\"}],"
		 "\"serial\":{\"mode\":\"File\",\"file\":\"%s\"},\"console\":{\"mode\":\"Off\"}}",
		 guest, disk, serial);
	assert_int_equal(call("PUT", "vm.create", cfg, NULL), 204);
	char *body = NULL;
	int st = call("PUT", "vm.boot", NULL, &body);
	if (st != 204)
		fail_msg("boot: %d %s", st, body);
	free(body);
	assert_string_equal(state_of(), "Running");
	assert_int_equal(call("PUT", "vm.boot", NULL, NULL), 500);
	assert_int_equal(call("PUT", "vm.resume", NULL, NULL), 500);
	uint64_t w = wait_writes(300, 60000);
	assert_true(w > 300);

	assert_int_equal(call("PUT", "vm.pause", NULL, NULL), 204);
	assert_string_equal(state_of(), "Paused");
	assert_int_equal(call("PUT", "vm.pause", NULL, NULL), 500);
	uint64_t w0 = counter("d0", "write_ops"), r0 = counter("d0", "read_ops");
	uint64_t sum0 = disk_sum(disk);
	sleep_ms(1000);
	assert_int_equal(counter("d0", "write_ops"), w0);
	assert_int_equal(counter("d0", "read_ops"), r0);
	assert_true(disk_sum(disk) == sum0);

	assert_int_equal(call("PUT", "vm.resume", NULL, NULL), 204);
	assert_string_equal(state_of(), "Running");
	assert_true(wait_writes(w0 + 50, 30000) > w0 + 50);

	assert_int_equal(call("PUT", "vm.shutdown", NULL, NULL), 204);
	assert_string_equal(state_of(), "Shutdown");
	assert_int_equal(call("PUT", "vm.shutdown", NULL, NULL), 500);
	/* Boot again from the same config: a new machine, counters from zero. */
	assert_int_equal(call("PUT", "vm.boot", NULL, NULL), 204);
	assert_string_equal(state_of(), "Running");
	assert_true(wait_writes(10, 60000) > 10);
	assert_int_equal(call("PUT", "vm.reboot", NULL, NULL), 204);
	assert_string_equal(state_of(), "Running");
	assert_int_equal(call("PUT", "vm.delete", NULL, NULL), 204);
	assert_int_equal(call("GET", "vm.info", NULL, NULL), 404);
	vmm_events_close();

	/* The events, in order. */
	static const char *const want[] = {"booting",  "booted",    "pausing",	"paused",
					   "resuming", "resumed",   "shutdown", "booting",
					   "booted",   "rebooting", "rebooted", "shutdown"};
	FILE *f = fopen(events, "r");
	assert_non_null(f);
	char line[256];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		assert_non_null(strstr(line, "{\"timestamp\":{\"secs\":"));
		assert_true(n < sizeof(want) / sizeof(want[0]));
		char ev[64];
		snprintf(ev, sizeof(ev), "\"source\":\"vm\",\"event\":\"%s\"", want[n]);
		if (!strstr(line, ev))
			fail_msg("event %zu: %s, want %s", n, line, want[n]);
		n++;
	}
	fclose(f);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	unlink(disk);
	unlink(serial);
	unlink(events);
}

int main(int argc, char **argv)
{
	guest = argc > 1 ? argv[1] : NULL;
	snprintf(dir, sizeof(dir), "/tmp/vmmon-api-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(methods_and_routes),
		cmocka_unit_test(no_vm),
		cmocka_unit_test(created_states),
		cmocka_unit_test(real_vm),
	};
	int ret = cmocka_run_group_tests(tests, setup, teardown);
	rmdir(dir);
	return ret;
}
