/* SPDX-License-Identifier: MIT */
/* ioproxy's command line: devices and sockets in pairs, the back-end conventions, and a
 * one-line error for every bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "cli.h"

#define ARGV(...)	     ((char *[]){"ioproxy", __VA_ARGS__, NULL})
#define ARGC(...)	     ((int)(sizeof((char *[]){"ioproxy", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, err, ...) iop_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err)

static void blk_and_net(void **state)
{
	(void)state;
	struct iop_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--socket", "/tmp/a.sock", "--blk",
			       "path=d.img,readonly=on,direct=on,queues=4,serial=disk0",
			       "--socket=/tmp/b.sock",
			       "--net=tap=tap0,queues=2,mac=52:54:00:00:00:07", "--poll=50",
			       "--threads", "2", "--user", "nobody"),
			 IOP_CLI_RUN);
	assert_int_equal(c.ndev, 2);
	assert_int_equal(c.dev[0].kind, IOP_DEV_BLK);
	assert_string_equal(c.dev[0].socket, "/tmp/a.sock");
	assert_string_equal(c.dev[0].blk.path, "d.img");
	assert_true(c.dev[0].blk.readonly && c.dev[0].blk.direct);
	assert_int_equal(c.dev[0].blk.queues, 4);
	assert_string_equal(c.dev[0].blk.serial, "disk0");
	assert_int_equal(c.dev[0].listen_fd, -1);
	assert_int_equal(c.dev[1].kind, IOP_DEV_NET);
	assert_string_equal(c.dev[1].socket, "/tmp/b.sock");
	assert_string_equal(c.dev[1].net.name, "tap0");
	assert_int_equal(c.dev[1].net.queues, 2);
	assert_true(c.dev[1].net.mac.set);
	assert_int_equal(c.dev[1].net.mac.addr[5], 7);
	assert_true(c.poll);
	assert_int_equal(c.poll_us, 50);
	assert_int_equal(c.threads, 2);
	assert_string_equal(c.user, "nobody");
	assert_true(c.seccomp);
	iop_cli_free(&c);
}

static void defaults_and_conventions(void **state)
{
	(void)state;
	struct iop_config c;
	struct host_err e = {{0}};
	/* The vhost-user backend conventions: --socket-path, --blk-file, --read-only, --fd. */
	assert_int_equal(
		PARSE(&c, &e, "--socket-path=/tmp/x.sock", "--blk-file=/dev/null", "--read-only"),
		IOP_CLI_RUN);
	assert_int_equal(c.ndev, 1);
	assert_string_equal(c.dev[0].blk.path, "/dev/null");
	assert_true(c.dev[0].blk.readonly);
	assert_int_equal(c.dev[0].blk.queues, 1);
	assert_int_equal(c.threads, 1);
	assert_false(c.poll);
	assert_int_equal(c.window_us, IOP_DEFAULT_POLL_WINDOW_US);
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--fd=3", "--blk-file", "d.img", "--poll"), IOP_CLI_RUN);
	assert_null(c.dev[0].socket);
	assert_int_equal(c.dev[0].listen_fd, 3);
	assert_int_equal(c.poll_us, IOP_DEFAULT_POLL_US);
	iop_cli_free(&c);
}

/* --poll-window=USEC: event mode's poll window, 0 (off) up to the bound; not with --poll. */
static void poll_window(void **state)
{
	(void)state;
	struct iop_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--poll-window=0"),
			 IOP_CLI_RUN);
	assert_int_equal(c.window_us, 0);
	assert_false(c.poll);
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--poll-window", "32"),
			 IOP_CLI_RUN);
	assert_int_equal(c.window_us, 32);
	iop_cli_free(&c);
	char max[16];
	snprintf(max, sizeof(max), "%u", IOP_MAX_POLL_WINDOW_US);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--poll-window", max),
			 IOP_CLI_RUN);
	assert_int_equal(c.window_us, IOP_MAX_POLL_WINDOW_US);
	iop_cli_free(&c);
}

static void actions(void **state)
{
	(void)state;
	struct iop_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--help"), IOP_CLI_HELP);
	assert_int_equal(PARSE(&c, &e, "--version"), IOP_CLI_VERSION);
	/* --print-capabilities wins over everything, errors included (the convention). */
	assert_int_equal(PARSE(&c, &e, "--bogus", "--print-capabilities"), IOP_CLI_CAPABILITIES);
	assert_non_null(strstr(iop_cli_capabilities(&c), "\"type\": \"block\""));
	assert_non_null(strstr(iop_cli_capabilities(&c), "\"read-only\""));
	assert_int_equal(PARSE(&c, &e, "--net", "tap=t0", "--print-capabilities"),
			 IOP_CLI_CAPABILITIES);
	assert_non_null(strstr(iop_cli_capabilities(&c), "\"type\": \"net\""));
}

/* --fixed-buffers: on, off, or auto (the default), which follows --poll. */
static void fixed_buffers(void **state)
{
	(void)state;
	struct iop_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x"), IOP_CLI_RUN);
	assert_int_equal(c.fixed_bufs, IOP_FIXED_AUTO);
	assert_false(iop_cli_fixed_bufs(&c));
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--poll"), IOP_CLI_RUN);
	assert_true(iop_cli_fixed_bufs(&c));
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--fixed-buffers=on"),
			 IOP_CLI_RUN);
	assert_int_equal(c.fixed_bufs, IOP_FIXED_ON);
	assert_true(iop_cli_fixed_bufs(&c));
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--poll",
			       "--fixed-buffers", "off"),
			 IOP_CLI_RUN);
	assert_false(iop_cli_fixed_bufs(&c));
	iop_cli_free(&c);
	assert_int_equal(PARSE(&c, &e, "--socket", "s", "--blk", "path=x", "--fixed-buffers=on",
			       "--fixed-buffers=auto"),
			 IOP_CLI_RUN);
	assert_int_equal(c.fixed_bufs, IOP_FIXED_AUTO);
	iop_cli_free(&c);
}

/* Many more devices than the 16 of old (the soak's 64 disks and 16 NICs), up to the limit;
 * one more is refused with a line that names it. */
static void many_devices(void **state)
{
	(void)state;
	enum { N = IOP_MAX_DEVICES + 1 };
	static char sock[N][24], blk[N][24];
	static char *argv[1 + 4 * N + 1];
	static struct iop_config c;
	struct host_err e = {{0}};
	int argc = 1;
	argv[0] = "ioproxy";
	for (int i = 0; i < N; i++) {
		snprintf(sock[i], sizeof(sock[i]), "/tmp/s%d.sock", i);
		snprintf(blk[i], sizeof(blk[i]), "path=d%d.img", i);
		argv[argc++] = "--socket";
		argv[argc++] = sock[i];
		argv[argc++] = i % 5 == 4 ? "--net" : "--blk";
		argv[argc++] = i % 5 == 4 ? "tap=t" : blk[i];
	}
	assert_int_equal(iop_cli_parse(1 + 4 * 80, argv, &c, &e), IOP_CLI_RUN);
	assert_int_equal(c.ndev, 80);
	assert_string_equal(c.dev[79].socket, "/tmp/s79.sock");
	assert_int_equal(c.dev[79].kind, IOP_DEV_NET);
	assert_string_equal(c.dev[78].blk.path, "d78.img");
	iop_cli_free(&c);
	assert_int_equal(iop_cli_parse(1 + 4 * IOP_MAX_DEVICES, argv, &c, &e), IOP_CLI_RUN);
	assert_int_equal(c.ndev, IOP_MAX_DEVICES);
	iop_cli_free(&c);
	assert_true(iop_cli_parse(1 + 4 * N, argv, &c, &e) < 0);
	if (!strstr(e.msg, "at most 1024 sockets in one ioproxy"))
		fail_msg("message '%s'", e.msg);
	iop_cli_free(&c);
}

static void one_bad(const char *want, int argc, char **argv)
{
	struct iop_config c;
	struct host_err e = {{0}};
	int ret = iop_cli_parse(argc, argv, &c, &e);
	assert_true(ret < 0);
	assert_null(strchr(e.msg, '\n'));
	if (!strstr(e.msg, want))
		fail_msg("message '%s' lacks '%s'", e.msg, want);
	iop_cli_free(&c);
}

#define BAD(want, ...) one_bad(want, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void errors(void **state)
{
	(void)state;
	BAD("no device", "--poll");
	BAD("1 device(s) but 0 socket(s)", "--blk", "path=x");
	BAD("2 device(s) but 1 socket(s)", "--socket", "s", "--blk", "path=x", "--net", "tap=t");
	BAD("given twice", "--socket", "s", "--socket", "s", "--blk", "path=x", "--blk", "path=y");
	BAD("no path=FILE", "--socket", "s", "--blk", "readonly=on");
	BAD("no tap=NAME", "--socket", "s", "--net", "queues=2");
	BAD("unknown key 'size'", "--socket", "s", "--blk", "path=x,size=1");
	BAD("not key=value", "--socket", "s", "--blk", "path=x,readonly");
	BAD("use on or off", "--socket", "s", "--blk", "path=x,direct=yes");
	BAD("1 to 16", "--socket", "s", "--blk", "path=x,queues=17");
	BAD("1 to 16", "--socket", "s", "--blk", "path=x,queues=0");
	BAD("1 to 8", "--socket", "s", "--net", "tap=t,queues=9");
	BAD("at most 15", "--socket", "s", "--net", "tap=abcdefghijklmnop");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=01:00:00:00:00:01");
	/* Six pairs of hex digits and colons, nothing else (the parser vmmon shares). */
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=52:54:00:12:34:5");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=52:54:00:12:34:567");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac= 52:54:00:12:34:56");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=+2:54:00:12:34:56");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=52-54-00-12-34-56");
	BAD("unicast", "--socket", "s", "--net", "tap=t,mac=5g:54:00:12:34:56");
	BAD("at most 20", "--socket", "s", "--blk", "path=x,serial=123456789012345678901");
	BAD("--poll abc", "--socket", "s", "--blk", "path=x", "--poll=abc");
	BAD("--poll-window abc: give a number from 0 to 1000", "--socket", "s", "--blk", "path=x",
	    "--poll-window=abc");
	BAD("--poll-window 1001: give a number from 0 to 1000", "--socket", "s", "--blk", "path=x",
	    "--poll-window=1001");
	BAD("--poll-window -1", "--socket", "s", "--blk", "path=x", "--poll-window=-1");
	BAD("--poll-window 5us", "--socket", "s", "--blk", "path=x", "--poll-window=5us");
	BAD("needs a value", "--socket", "s", "--blk", "path=x", "--poll-window");
	BAD("--poll-window is for event mode", "--socket", "s", "--blk", "path=x", "--poll",
	    "--poll-window=50");
	BAD("--poll-window is for event mode", "--socket", "s", "--blk", "path=x",
	    "--poll-window=50", "--poll=10");
	BAD("--threads 0", "--socket", "s", "--blk", "path=x", "--threads", "0");
	BAD("needs a value", "--socket", "s", "--blk", "path=x", "--threads");
	BAD("unknown option '--frobnicate'", "--frobnicate");
	BAD("unexpected argument 'disk.img'", "disk.img");
	BAD("--fd abc", "--fd=abc", "--blk", "path=x");
	BAD("too long", "--socket",
	    "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "--blk", "path=x");
	BAD("empty", "--socket", "", "--blk", "path=x");
	BAD("no commas", "--socket", "s", "--blk-file", "a,b");
	BAD("--fixed-buffers=yes: give on, off or auto", "--socket", "s", "--blk", "path=x",
	    "--fixed-buffers=yes");
	BAD("needs a value", "--socket", "s", "--blk", "path=x", "--fixed-buffers");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blk_and_net),	cmocka_unit_test(defaults_and_conventions),
		cmocka_unit_test(actions),	cmocka_unit_test(fixed_buffers),
		cmocka_unit_test(many_devices), cmocka_unit_test(errors),
		cmocka_unit_test(poll_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
