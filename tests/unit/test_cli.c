/* SPDX-License-Identifier: MIT */
/* Command line: defaults, both option forms, and a one-line error for every bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"

#define ARGV(...)	     ((char *[]){"vmmon", __VA_ARGS__, NULL})
#define ARGC(...)	     ((int)(sizeof((char *[]){"vmmon", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(cfg, err, ...) vmm_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg, err)

static void defaults(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k.elf"), VMM_CLI_RUN);
	assert_string_equal(c.kernel, "k.elf");
	assert_null(c.initramfs);
	assert_string_equal(c.cmdline, "");
	assert_int_equal(c.cpus, 1);
	assert_int_equal(c.memory, 512ull << 20);
	assert_int_equal(c.serial, VMM_SERIAL_STDIO);
	assert_false(c.stats);
}

static void everything(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--initramfs", "i", "--cmdline", "a b",
			       "--cpus", "4", "--memory", "2G", "--serial", "file=/tmp/x",
			       "--stats"),
			 VMM_CLI_RUN);
	assert_string_equal(c.initramfs, "i");
	assert_string_equal(c.cmdline, "a b");
	assert_int_equal(c.cpus, 4);
	assert_int_equal(c.memory, 2ull << 30);
	assert_int_equal(c.serial, VMM_SERIAL_FILE);
	assert_string_equal(c.serial_path, "/tmp/x");
	assert_true(c.stats);
	/* Cloud Hypervisor's key=value forms, and --opt=value. */
	assert_int_equal(PARSE(&c, &e, "--kernel=k", "--cpus", "boot=2", "--memory", "size=768M",
			       "--serial", "off"),
			 VMM_CLI_RUN);
	assert_int_equal(c.cpus, 2);
	assert_int_equal(c.memory, 768ull << 20);
	assert_int_equal(c.serial, VMM_SERIAL_OFF);
}

static void help_and_version(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	FILE *saved = stdout;
	stdout = fopen("/dev/null", "w");
	assert_int_equal(PARSE(&c, &e, "--help"), VMM_CLI_DONE);
	assert_int_equal(PARSE(&c, &e, "-V"), VMM_CLI_DONE);
	fclose(stdout);
	stdout = saved;
}

static void expect_error(int ret, const struct host_err *e, const char *words)
{
	assert_int_equal(ret, -EINVAL);
	assert_non_null(strstr(e->msg, words));
	assert_null(strchr(e->msg, '\n'));
}

static void errors(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e;
#define ERR(words, ...)                                                                            \
	do {                                                                                       \
		memset(&e, 0, sizeof(e));                                                          \
		expect_error(PARSE(&c, &e, __VA_ARGS__), &e, words);                               \
	} while (0)
	ERR("no --kernel or --firmware given", "--cpus", "2");
	ERR("unknown option --frobnicate", "--kernel", "k", "--frobnicate");
	ERR("--cpus needs a value", "--kernel", "k", "--cpus");
	ERR("--cpus 0", "--kernel", "k", "--cpus", "0");
	ERR("--cpus 255", "--kernel", "k", "--cpus", "255");
	ERR("--cpus two", "--kernel", "k", "--cpus", "two");
	ERR("--cpus 2x", "--kernel", "k", "--cpus", "2x");
	ERR("--cpus -1", "--kernel", "k", "--cpus", "-1");
	ERR("--memory lots", "--kernel", "k", "--memory", "lots");
	ERR("between 4M and 1T", "--kernel", "k", "--memory", "1M");
	ERR("between 4M and 1T", "--kernel", "k", "--memory", "2T");
	ERR("multiple of 4K", "--kernel", "k", "--memory", "4194305");
	ERR("--memory 99999999999999999999G", "--kernel", "k", "--memory", "99999999999999999999G");
	ERR("--memory 20000000T", "--kernel", "k", "--memory", "20000000T");
	ERR("--serial tty", "--kernel", "k", "--serial", "tty");
	ERR("--serial file=", "--kernel", "k", "--serial", "file=");
	ERR("unexpected argument 'extra'", "--kernel", "k", "extra");
#undef ERR
}

/* --net's NIC model: virtio by default, pcnet on a tap with one queue over PCI; the
 * combinations the PCnet cannot be refused with one line each. */
static void net_model(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--net", "tap=t0"), VMM_CLI_RUN);
	assert_int_equal(c.nets[0].model, VMM_NET_VIRTIO);
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--net", "tap=t0,model=virtio", "--net",
			       "tap=t1,model=pcnet,mac=52:54:00:aa:bb:cc"),
			 VMM_CLI_RUN);
	assert_int_equal(c.nr_nets, 2);
	assert_int_equal(c.nets[0].model, VMM_NET_VIRTIO);
	assert_int_equal(c.nets[1].model, VMM_NET_PCNET);
	assert_string_equal(c.nets[1].tap.name, "t1");
	assert_true(c.nets[1].tap.mac.set);
	assert_int_equal(c.nets[1].tap.mac.addr[5], 0xcc);
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--net",
			       "model=pcnet,tap=t0,queues=1,"
			       "transport=pci"),
			 VMM_CLI_RUN);
	assert_int_equal(c.nets[0].model, VMM_NET_PCNET);
#define ERR(words, ...)                                                                            \
	do {                                                                                       \
		memset(&e, 0, sizeof(e));                                                          \
		expect_error(PARSE(&c, &e, "--kernel", "k", "--net", __VA_ARGS__), &e, words);     \
	} while (0)
	ERR("model=pcnet has one queue pair", "tap=t0,model=pcnet,queues=2");
	ERR("model=pcnet is a PCI device", "tap=t0,model=pcnet,transport=mmio");
	ERR("model=pcnet takes tap=NAME", "vhost-user=/tmp/s,model=pcnet");
	ERR("model", "tap=t0,model=e1000");
	ERR("give tap=NAME or vhost-user=SOCKET", "model=pcnet");
#undef ERR
}

static void ata_disks(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--disk",
			       "path=a.img,transport=ata,readonly=on,direct=on,serial=S1", "--disk",
			       "path=b.img"),
			 VMM_CLI_RUN);
	assert_int_equal(c.nr_disks, 2);
	assert_int_equal(c.disks[0].transport, VMM_TRANSPORT_ATA);
	assert_string_equal(c.disks[0].blk.path, "a.img");
	assert_true(c.disks[0].blk.readonly);
	assert_true(c.disks[0].blk.direct);
	assert_string_equal(c.disks[0].blk.serial, "S1");
	assert_int_equal(c.disks[1].transport, VMM_TRANSPORT_PCI);
	vmm_config_free(&c);
	/* Four ATA disks fill both channels; virtio disks beside them do not count. */
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--disk", "path=1,transport=ata", "--disk",
			       "path=2,transport=ata", "--disk", "path=v", "--disk",
			       "path=3,transport=ata", "--disk", "path=4,transport=ata"),
			 VMM_CLI_RUN);
	vmm_config_free(&c);
	memset(&e, 0, sizeof(e));
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--disk", "path=1,transport=ata", "--disk",
			       "path=2,transport=ata", "--disk", "path=3,transport=ata", "--disk",
			       "path=4,transport=ata", "--disk", "path=5,transport=ata"),
			 -E2BIG);
	assert_non_null(strstr(e.msg, "at most 4 ATA disks"));
	vmm_config_free(&c);
#define ERR(words, ...)                                                                            \
	do {                                                                                       \
		memset(&e, 0, sizeof(e));                                                          \
		expect_error(PARSE(&c, &e, __VA_ARGS__), &e, words);                               \
		vmm_config_free(&c);                                                               \
	} while (0)
	ERR("transport=ata takes path=FILE, not vhost-user", "--kernel", "k", "--disk",
	    "vhost-user=/s,transport=ata");
	ERR("transport=ata has no queues=", "--kernel", "k", "--disk",
	    "path=a,transport=ata,queues=2");
	ERR("transport=scsi: use pci or mmio or ata", "--kernel", "k", "--disk",
	    "path=a,transport=scsi");
	/* ATA is a disk transport only. */
	ERR("transport=ata: use pci or mmio", "--kernel", "k", "--net", "tap=t0,transport=ata");
	ERR("transport=ata: use pci or mmio", "--kernel", "k", "--rng=transport=ata");
	ERR("transport=ata: use pci or mmio", "--kernel", "k", "--console", "virtio,transport=ata");
#undef ERR
}

/* opt=: all (the default), none, or names joined by '+', each a bit in the order the device
 * lists them; a bad list, or opt= on a device that has none, is a one-line error naming what
 * is accepted. */
static void optimisations(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--net", "tap=t0,model=pcnet", "--net",
			       "tap=t1,model=pcnet,opt=none", "--net",
			       "tap=t2,model=pcnet,opt=tdmd+rap", "--net",
			       "tap=t3,model=pcnet,opt=coalesce,coalesce_us=250,combine_frames=8,"
			       "combine_us=2000"),
			 VMM_CLI_RUN);
	assert_int_equal(c.nets[0].opt.mask, VMM_PCNET_OPT_ALL);
	assert_false(c.nets[0].opt.given);
	assert_int_equal(c.nets[0].combine_frames, VMM_PCNET_COMBINE_FRAMES);
	assert_int_equal(c.nets[0].combine_us, VMM_PCNET_COMBINE_US);
	assert_int_equal(c.nets[0].coalesce_us, VMM_PCNET_COALESCE_US);
	assert_int_equal(c.nets[1].opt.mask, 0);
	assert_true(c.nets[1].opt.given);
	assert_int_equal(c.nets[2].opt.mask, VMM_PCNET_OPT_RAP | VMM_PCNET_OPT_TDMD);
	assert_int_equal(c.nets[3].opt.mask, VMM_PCNET_OPT_COALESCE);
	assert_int_equal(c.nets[3].coalesce_us, 250);
	assert_int_equal(c.nets[3].combine_frames, 8);
	assert_int_equal(c.nets[3].combine_us, 2000);
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--net", "tap=t0,model=pcnet,opt=all"),
			 VMM_CLI_RUN);
	assert_int_equal(c.nets[0].opt.mask, VMM_PCNET_OPT_ALL);
	assert_true(c.nets[0].opt.given);
	assert_int_equal(PARSE(&c, &e, "--kernel", "k", "--disk", "path=a,transport=ata", "--disk",
			       "path=b,transport=ata,opt=data+bm", "--disk",
			       "path=c,transport=ata,opt=none", "--disk",
			       "path=d,transport=ata,opt=cmd+taskfile"),
			 VMM_CLI_RUN);
	assert_int_equal(c.disks[0].opt.mask, VMM_ATA_OPT_ALL);
	assert_int_equal(VMM_ATA_OPT_ALL & VMM_ATA_OPT_CMD, VMM_ATA_OPT_CMD);
	assert_int_equal(c.disks[1].opt.mask, VMM_ATA_OPT_DATA | VMM_ATA_OPT_BM);
	assert_int_equal(c.disks[2].opt.mask, 0);
	assert_int_equal(c.disks[3].opt.mask, VMM_ATA_OPT_CMD | VMM_ATA_OPT_TASKFILE);
	vmm_config_free(&c);
#define ERR(words, ...)                                                                            \
	do {                                                                                       \
		memset(&e, 0, sizeof(e));                                                          \
		expect_error(PARSE(&c, &e, "--kernel", "k", __VA_ARGS__), &e, words);              \
		vmm_config_free(&c);                                                               \
	} while (0)
	static const char pcnet_words[] =
		"opt=rap+fast: use all, none, or names joined by '+' from rap, tdmd, combine, "
		"coalesce";
	ERR(pcnet_words, "--net", "tap=t0,model=pcnet,opt=rap+fast");
	ERR("opt=rap+: use all, none", "--net", "tap=t0,model=pcnet,opt=rap+");
	ERR("opt=+rap: use all, none", "--net", "tap=t0,model=pcnet,opt=+rap");
	ERR("opt=All: use all, none", "--net", "tap=t0,model=pcnet,opt=All");
	ERR("opt=none+rap: use all", "--net", "tap=t0,model=pcnet,opt=none+rap");
	ERR("combine_frames=0: give a number from 1 to 32", "--net",
	    "tap=t0,model=pcnet,combine_frames=0");
	ERR("coalesce_us=x: give a number", "--net", "tap=t0,model=pcnet,coalesce_us=x");
	ERR("are model=pcnet's", "--net", "tap=t0,opt=none");
	ERR("are model=pcnet's", "--net", "tap=t0,model=virtio,combine_us=5");
	ERR("opt=fast: use all, none, or names joined by '+' from taskfile, data, bm, cmd",
	    "--disk", "path=a,transport=ata,opt=fast");
	ERR("opt= is the ATA disk's", "--disk", "path=a,opt=none");
	ERR("opt= is the ATA disk's", "--disk", "path=a,transport=mmio,opt=all");
#undef ERR
}

static void sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(vmm_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(vmm_parse_size("64K", &v), 0);
	assert_int_equal(v, 64 << 10);
	assert_int_equal(vmm_parse_size("3MiB", &v), 0);
	assert_int_equal(v, 3 << 20);
	assert_int_equal(vmm_parse_size("1g", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(vmm_parse_size("size=1T", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(vmm_parse_size("", &v), -EINVAL);
	assert_int_equal(vmm_parse_size("M", &v), -EINVAL);
	assert_int_equal(vmm_parse_size("1X", &v), -EINVAL);
	assert_int_equal(vmm_parse_size("1 G", &v), -EINVAL);
	assert_int_equal(vmm_parse_size("-1G", &v), -EINVAL);
	assert_int_equal(vmm_parse_size("17179869184G", &v), -EINVAL); /* 2^64: overflows */
}

/* --firmware boots from a disk instead of a kernel: it excludes the kernel's options, boot=on
 * names one disk and needs it, virtio-mmio (which a firmware cannot find) is refused, and
 * --debugcon is off unless asked for. */
static void firmware(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k"), VMM_CLI_RUN);
	assert_null(c.firmware);
	assert_int_equal(c.debugcon, VMM_SERIAL_OFF);
	assert_int_equal(PARSE(&c, &e, "--firmware", "bios.bin", "--disk", "path=a,transport=ata",
			       "--disk", "path=b,boot=on", "--debugcon", "file=/tmp/log"),
			 VMM_CLI_RUN);
	assert_string_equal(c.firmware, "bios.bin");
	assert_null(c.kernel);
	assert_false(c.disks[0].boot);
	assert_true(c.disks[1].boot);
	assert_int_equal(c.debugcon, VMM_SERIAL_FILE);
	assert_string_equal(c.debugcon_path, "/tmp/log");
	vmm_config_free(&c);
	assert_int_equal(PARSE(&c, &e, "--firmware", "f", "--debugcon", "stdio", "--disk",
			       "path=a,boot=off", "--net", "tap=t0", "--rng"),
			 VMM_CLI_RUN);
	assert_int_equal(c.debugcon, VMM_SERIAL_STDIO);
	vmm_config_free(&c);
#define ERR(words, ...)                                                                            \
	do {                                                                                       \
		memset(&e, 0, sizeof(e));                                                          \
		expect_error(PARSE(&c, &e, __VA_ARGS__), &e, words);                               \
		vmm_config_free(&c);                                                               \
	} while (0)
	ERR("no --kernel or --firmware given", "--disk", "path=a");
	ERR("--kernel and --firmware exclude each other", "--kernel", "k", "--firmware", "f");
	ERR("--initramfs and --cmdline go with --kernel", "--firmware", "f", "--initramfs", "i");
	ERR("--initramfs and --cmdline go with --kernel", "--firmware", "f", "--cmdline", "");
	ERR("boot=on picks the firmware's boot disk: it needs --firmware", "--kernel", "k",
	    "--disk", "path=a,boot=on");
	ERR("boot=on is given to 2 disks", "--firmware", "f", "--disk", "path=a,boot=on", "--disk",
	    "path=b,boot=on");
	ERR("boot", "--firmware", "f", "--disk", "path=a,boot=maybe");
	ERR("--disk ...,transport=mmio: a firmware cannot find", "--firmware", "f", "--disk",
	    "path=a,transport=mmio");
	ERR("--net ...,transport=mmio", "--firmware", "f", "--net", "tap=t0,transport=mmio");
	ERR("--console ...,transport=mmio", "--firmware", "f", "--console",
	    "virtio,transport=mmio");
	ERR("--rng ...,transport=mmio", "--firmware", "f", "--rng=transport=mmio");
	ERR("--debugcon tty: use stdio, file=PATH or off", "--kernel", "k", "--debugcon", "tty");
	ERR("--debugcon file=", "--kernel", "k", "--debugcon", "file=");
	ERR("--firmware needs a value", "--firmware");
#undef ERR
}

/* --api-socket: PATH, path=PATH or fd=N (a listening Unix stream socket, checked here); alone
 * it is enough (the VM comes from vm.create); every bad form is a one-line error. */
static void api_socket(void **state)
{
	(void)state;
	struct vmm_config c;
	struct host_err e = {{0}};
	assert_int_equal(PARSE(&c, &e, "--kernel", "k"), VMM_CLI_RUN);
	assert_false(c.api_given);
	assert_int_equal(PARSE(&c, &e, "--api-socket", "/tmp/a.sock"), VMM_CLI_RUN);
	assert_true(c.api_given);
	assert_string_equal(c.api.path, "/tmp/a.sock");
	assert_int_equal(c.api.fd, -1);
	assert_null(c.kernel);
	assert_null(c.firmware);
	assert_int_equal(PARSE(&c, &e, "--api-socket", "path=/tmp/b=c", "--kernel", "k"),
			 VMM_CLI_RUN);
	assert_string_equal(c.api.path, "/tmp/b=c");
	assert_string_equal(c.kernel, "k");
	assert_int_equal(PARSE(&c, &e, "--api-socket=rel.sock", "--cpus", "2"), VMM_CLI_RUN);
	assert_string_equal(c.api.path, "rel.sock");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr sa = {.sa_family = AF_UNIX};
	assert_int_equal(bind(fd, &sa, sizeof(sa_family_t)), 0); /* an abstract address */
	assert_int_equal(listen(fd, 1), 0);
	char arg[32];
	snprintf(arg, sizeof(arg), "fd=%d", fd);
	assert_int_equal(PARSE(&c, &e, "--api-socket", arg), VMM_CLI_RUN);
	assert_null(c.api.path);
	assert_int_equal(c.api.fd, fd);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(arg, sizeof(arg), "fd=%d", fd);
	char longp[160];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	struct host_err *ep = &e;
#define ERR(code, words, ...)                                                                      \
	do {                                                                                       \
		memset(ep, 0, sizeof(*ep));                                                        \
		assert_int_equal(PARSE(&c, ep, __VA_ARGS__), -(code));                             \
		if (!strstr(ep->msg, words))                                                       \
			fail_msg("'%s' lacks '%s'", ep->msg, words);                               \
		assert_null(strchr(ep->msg, '\n'));                                                \
	} while (0)
	ERR(EINVAL, "not listening", "--api-socket", arg);
	close(fd);
	ERR(EBADF, "not an open descriptor", "--api-socket", arg);
	ERR(EINVAL, "give fd=N", "--api-socket", "fd=");
	ERR(EINVAL, "give fd=N", "--api-socket", "fd=-3");
	ERR(EINVAL, "give fd=N", "--api-socket", "fd=3x");
	ERR(EINVAL, "give fd=N", "--api-socket", "fd=99999999999");
	int p[2];
	assert_int_equal(pipe(p), 0);
	snprintf(arg, sizeof(arg), "fd=%d", p[0]);
	ERR(ENOTSOCK, "not a Unix domain socket", "--api-socket", arg, "--kernel", "k");
	close(p[0]);
	close(p[1]);
	ERR(EINVAL, "give a socket path", "--api-socket", "path=");
	ERR(EINVAL, "give a socket path", "--api-socket", longp);
	ERR(EINVAL, "unknown key", "--api-socket", "sock=/tmp/a");
	ERR(EINVAL, "--api-socket needs a value", "--api-socket");
	ERR(EINVAL, "given twice", "--api-socket", "/a", "--api-socket", "/b");
	ERR(EINVAL, "vm.create's payload", "--api-socket", "/a", "--cmdline", "x");
	ERR(EINVAL, "vm.create's payload", "--api-socket", "/a", "--initramfs", "i");
	ERR(EINVAL, "no --kernel or --firmware given", "--cpus", "2");
#undef ERR
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(firmware),   cmocka_unit_test(defaults),
		cmocka_unit_test(everything), cmocka_unit_test(help_and_version),
		cmocka_unit_test(errors),     cmocka_unit_test(net_model),
		cmocka_unit_test(ata_disks),  cmocka_unit_test(optimisations),
		cmocka_unit_test(sizes),      cmocka_unit_test(api_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
