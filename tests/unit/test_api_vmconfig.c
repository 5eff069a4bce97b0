/* SPDX-License-Identifier: MIT */
/* VmConfig <-> struct vmm_config: a Cloud Hypervisor client's config accepted, unknown and
 * unsupported fields refused by name, no-op fields accepted, bad values refused, duplicate ids
 * refused, and vm.info's config going back through vm.create unchanged. Tap descriptors
 * (SCM_RIGHTS): net[].fds and vm.add-net taking them, counts and non-taps refused with the
 * caller's descriptors left as they were, taken ones owned (closed on free); real taps come
 * from a network namespace of the test's own. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/vmconfig.h"
#include "fake_tap.h"

#define KERNEL "\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"console=ttyS0\"}"

/* A config as a Cloud Hypervisor client (Kata's clh driver, libvirt's ch) sends it. */
static const char client_config[] =
	"{\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":2,\"kvm_hyperv\":false},"
	"\"memory\":{\"size\":1073741824,\"shared\":true,\"hugepages\":false,"
	"\"mergeable\":false,\"hotplug_method\":\"Acpi\",\"thp\":true},"
	"\"payload\":{\"kernel\":\"/opt/vmlinux\",\"cmdline\":\"console=hvc0 root=/dev/vda1\","
	"\"initramfs\":\"/opt/initrd\"},"
	"\"disks\":[{\"path\":\"/img/root.raw\",\"readonly\":true,\"direct\":true,"
	"\"num_queues\":2,\"queue_size\":128,\"iommu\":false,\"id\":\"root\","
	"\"serial\":\"ROOT1\",\"vhost_user\":false,\"pci_segment\":0},"
	"{\"vhost_user\":true,\"vhost_socket\":\"/run/blk.sock\"}],"
	"\"net\":[{\"tap\":\"tap0\",\"mac\":\"12:34:56:78:90:01\",\"num_queues\":2,"
	"\"queue_size\":256,\"ip\":\"192.168.249.1\",\"mask\":\"255.255.255.0\","
	"\"vhost_mode\":\"Client\",\"offload_csum\":false}],"
	"\"rng\":{\"src\":\"/dev/urandom\"},"
	"\"serial\":{\"mode\":\"File\",\"file\":\"/tmp/serial.log\"},"
	"\"console\":{\"mode\":\"Off\"},"
	"\"iommu\":false,\"watchdog\":false,\"pvpanic\":false,\"fs\":null,\"pmem\":[]}";

static void client_config_accepted(void **state)
{
	(void)state;
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	int ret = vmm_vmconfig_parse(client_config, strlen(client_config), NULL, 0, &vc, &err);
	if (ret)
		fail_msg("refused: %s", err.msg);
	const struct vmm_config *c = &vc.cfg;
	assert_int_equal(c->cpus, 2);
	assert_int_equal(c->memory, 1ull << 30);
	assert_string_equal(c->kernel, "/opt/vmlinux");
	assert_string_equal(c->cmdline, "console=hvc0 root=/dev/vda1");
	assert_string_equal(c->initramfs, "/opt/initrd");
	assert_null(c->firmware);
	assert_int_equal(c->nr_disks, 2);
	assert_string_equal(c->disks[0].blk.path, "/img/root.raw");
	assert_true(c->disks[0].blk.readonly);
	assert_true(c->disks[0].blk.direct);
	assert_int_equal(c->disks[0].blk.queues, 2);
	assert_string_equal(c->disks[0].blk.serial, "ROOT1");
	assert_string_equal(vc.disk_id[0], "root");
	assert_null(c->disks[1].blk.path);
	assert_string_equal(c->disks[1].vhost_user, "/run/blk.sock");
	assert_string_equal(vc.disk_id[1], "_disk1");
	assert_int_equal(c->nr_nets, 1);
	assert_string_equal(c->nets[0].tap.name, "tap0");
	assert_int_equal(c->nets[0].tap.queues, 1);
	assert_true(c->nets[0].tap.mac.set);
	assert_int_equal(c->nets[0].tap.mac.addr[5], 0x01);
	assert_string_equal(vc.net_id[0], "_net0");
	assert_true(c->rng);
	assert_int_equal(c->serial, VMM_SERIAL_FILE);
	assert_string_equal(c->serial_path, "/tmp/serial.log");
	assert_false(c->virtio_console);
	vmm_vmconfig_free(&vc);
}

/* Each body is refused with -EINVAL and a message naming `field`. */
static void expect_refused(const char *body, int want, const char *field)
{
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	int ret = vmm_vmconfig_parse(body, strlen(body), NULL, 0, &vc, &err);
	if (ret != want)
		fail_msg("%s: got %d, want %d (%s)", body, ret, want, err.msg);
	if (!strstr(err.msg, field))
		fail_msg("%s: message \"%s\" does not name %s", body, err.msg, field);
	/* Refused: nothing kept. */
	assert_int_equal(vc.cfg.nr_disks, 0);
	assert_null(vc.cfg.kernel);
}

static void unknown_fields(void **state)
{
	(void)state;
	expect_refused("{" KERNEL ",\"foo\":1}", -EINVAL, "foo");
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/d\",\"bogus\":true}]}", -EINVAL,
		       "disks[0].bogus");
	expect_refused("{\"payload\":{\"kernel\":\"/k\",\"extra\":\"x\"}}", -EINVAL,
		       "payload.extra");
	expect_refused("{" KERNEL ",\"cpus\":{\"boot_vcpus\":1,\"zz\":0}}", -EINVAL, "cpus.zz");
	/* Cloud Hypervisor's old top-level "kernel" object is no field of VmConfig any more. */
	expect_refused("{" KERNEL ",\"kernel\":{\"path\":\"/k\"}}", -EINVAL, "kernel");
}

static void unsupported_values(void **state)
{
	(void)state;
	expect_refused("{" KERNEL ",\"memory\":{\"size\":536870912,\"shared\":false}}", -EINVAL,
		       "memory.shared");
	expect_refused("{" KERNEL ",\"memory\":{\"size\":536870912,\"hugepages\":true}}", -EINVAL,
		       "memory.hugepages");
	expect_refused("{" KERNEL ",\"cpus\":{\"boot_vcpus\":1,\"max_vcpus\":2}}", -EINVAL,
		       "cpus.max_vcpus");
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/d\",\"iommu\":true}]}", -EINVAL,
		       "disks[0].iommu");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"t\",\"offload_tso\":true}]}", -EINVAL,
		       "net[0].offload_tso");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"t\",\"ip\":\"10.0.0.1\"}]}", -EINVAL,
		       "net[0].ip");
	expect_refused("{" KERNEL ",\"rng\":{\"src\":\"/dev/random\"}}", -EINVAL, "rng.src");
	expect_refused("{" KERNEL ",\"serial\":{\"mode\":\"Pty\"}}", -EINVAL, "serial.mode");
	expect_refused("{" KERNEL ",\"serial\":{\"mode\":\"File\"}}", -EINVAL, "serial.file");
	expect_refused("{" KERNEL ",\"vsock\":{\"cid\":3,\"socket\":\"/s\"}}", -EINVAL, "vsock");
	expect_refused("{" KERNEL ",\"fs\":[{\"tag\":\"a\"}]}", -EINVAL, "fs");
	expect_refused("{" KERNEL ",\"watchdog\":true}", -EINVAL, "watchdog");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"t\",\"fds\":[3]}]}", -EINVAL, "net[0].fds");
}

static void bad_values(void **state)
{
	(void)state;
	expect_refused("{}", -EINVAL, "payload");
	expect_refused("[]", -EINVAL, "not an object");
	expect_refused("{\"payload\":{}}", -EINVAL, "payload.kernel");
	expect_refused("{\"payload\":{\"kernel\":\"/k\",\"firmware\":\"/f\"}}", -EINVAL,
		       "payload.kernel");
	expect_refused("{\"payload\":{\"firmware\":\"/f\",\"cmdline\":\"x\"}}", -EINVAL,
		       "payload.firmware");
	expect_refused("{" KERNEL ",\"memory\":{\"size\":1000}}", -EINVAL, "memory.size");
	expect_refused("{" KERNEL ",\"memory\":{\"size\":\"512M\"}}", -EINVAL, "memory.size");
	expect_refused("{" KERNEL ",\"memory\":{\"size\":4194305}}", -EINVAL, "memory.size");
	expect_refused("{" KERNEL ",\"cpus\":{\"boot_vcpus\":0}}", -EINVAL, "cpus.boot_vcpus");
	expect_refused("{" KERNEL ",\"cpus\":{\"boot_vcpus\":1.0}}", -EINVAL, "cpus.boot_vcpus");
	expect_refused("{" KERNEL ",\"cpus\":{\"boot_vcpus\":-1}}", -EINVAL, "cpus.boot_vcpus");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"t\",\"num_queues\":3}]}", -EINVAL,
		       "net[0].num_queues");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"t\",\"mac\":\"zz\"}]}", -EINVAL, "mac");
	expect_refused("{" KERNEL ",\"net\":[{\"tap\":\"a-name-longer-than-15\"}]}", -EINVAL,
		       "net[0].tap");
	expect_refused("{" KERNEL ",\"disks\":[{\"readonly\":true}]}", -EINVAL, "disks[0].path");
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/d\",\"readonly\":1}]}", -EINVAL,
		       "disks[0].readonly");
	expect_refused("{" KERNEL ",\"disks\":[{\"vhost_user\":true,\"path\":\"/d\"}]}", -EINVAL,
		       "disks[0].vhost_socket");
	expect_refused("{" KERNEL ",\"disks\":{}}", -EINVAL, "disks");
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/d\",\"serial\":"
		       "\"123456789012345678901\"}]}",
		       -EINVAL, "disks[0].serial");
	expect_refused("{" KERNEL ",", -EINVAL, "invalid JSON");
}

static void duplicate_ids(void **state)
{
	(void)state;
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/a\",\"id\":\"x\"},{\"path\":\"/b\","
		       "\"id\":\"x\"}]}",
		       -EEXIST, "x");
	expect_refused("{" KERNEL ",\"disks\":[{\"path\":\"/a\",\"id\":\"x\"}],\"net\":[{\"tap\":"
		       "\"t\",\"id\":\"x\"}]}",
		       -EEXIST, "net[0].id");
	/* A generated id steps aside for a given one. */
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	const char *b =
		"{" KERNEL ",\"disks\":[{\"path\":\"/a\",\"id\":\"_disk1\"},{\"path\":\"/b\"}]}";
	assert_int_equal(vmm_vmconfig_parse(b, strlen(b), NULL, 0, &vc, &err), 0);
	assert_string_equal(vc.disk_id[1], "_disk2");
	/* vm.add-disk: cold plug, the same checks. */
	const char *d = "{\"path\":\"/c\",\"id\":\"_disk1\"}";
	assert_int_equal(vmm_vmconfig_add_disk(&vc, d, strlen(d), &err), -EEXIST);
	assert_int_equal(vc.cfg.nr_disks, 2);
	d = "{\"path\":\"/c\",\"iommu\":true}";
	assert_int_equal(vmm_vmconfig_add_disk(&vc, d, strlen(d), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "DiskConfig.iommu"));
	d = "{\"path\":\"/c\",\"what\":1}";
	assert_int_equal(vmm_vmconfig_add_disk(&vc, d, strlen(d), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "DiskConfig.what"));
	assert_int_equal(vc.cfg.nr_disks, 2);
	d = "{\"path\":\"/c\",\"id\":\"third\"}";
	assert_int_equal(vmm_vmconfig_add_disk(&vc, d, strlen(d), &err), 0);
	assert_int_equal(vc.cfg.nr_disks, 3);
	assert_string_equal(vc.cfg.disks[2].blk.path, "/c");
	d = "{\"tap\":\"tap9\"}";
	assert_int_equal(vmm_vmconfig_add_net(&vc, d, strlen(d), NULL, 0, &err), 0);
	assert_string_equal(vc.net_id[0], "_net0");
	vmm_vmconfig_free(&vc);
}

static char *info_config(const char *body)
{
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	if (vmm_vmconfig_parse(body, strlen(body), NULL, 0, &vc, &err))
		fail_msg("refused %s: %s", body, err.msg);
	struct jsonw w = {0};
	vmm_vmconfig_write(&w, &vc);
	vmm_vmconfig_free(&vc);
	return jsonw_take(&w);
}

static void round_trip(void **state)
{
	(void)state;
	const char *bodies[] = {
		client_config,
		"{\"payload\":{\"kernel\":\"/k\"}}",
		"{\"payload\":{\"firmware\":\"/bios.bin\"},\"disks\":[{\"path\":\"/boot.img\"}],"
		"\"serial\":{\"mode\":\"Tty\"},\"console\":{\"mode\":\"Null\"}}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *once = info_config(bodies[i]);
		char *twice = info_config(once);
		assert_string_equal(once, twice);
		free(once);
		free(twice);
	}
	/* The defaults filled in: what an empty config means. */
	char *s = info_config("{\"payload\":{\"kernel\":\"/k\"}}");
	assert_non_null(strstr(s, "\"boot_vcpus\":1,\"max_vcpus\":1"));
	assert_non_null(strstr(s, "\"size\":536870912,\"shared\":true"));
	assert_non_null(strstr(s, "\"serial\":{\"mode\":\"Null\"}"));
	assert_non_null(strstr(s, "\"console\":{\"mode\":\"Tty\""));
	assert_non_null(strstr(s, "\"cmdline\":\"\""));
	free(s);
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* body with fds[0..n) is refused (-EINVAL, or want when not 0) naming `field`; the
 * descriptors are the caller's still. */
static void fds_refused_as(const char *body, const int *given, unsigned n, int want,
			   const char *field)
{
	int fds[4];
	memcpy(fds, given, n * sizeof(int));
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	int ret = vmm_vmconfig_parse(body, strlen(body), fds, n, &vc, &err);
	if (ret != want || !strstr(err.msg, field))
		fail_msg("%s: got %d (%s), want %d naming %s", body, ret, err.msg, want, field);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(fds[i], given[i]);
		assert_true(is_open(fds[i]));
	}
	assert_int_equal(vc.cfg.nr_nets, 0);
}

static void fds_refused_with(const char *body, const int *given, unsigned n, const char *field)
{
	fds_refused_as(body, given, n, -EINVAL, field);
}

#define NET(x) "{" KERNEL ",\"net\":[" x "]}"

/* Refused before a tap is needed: counts, shapes, and descriptors that are no tap. */
static void fds_refused(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	fds_refused_with(NET("{\"fds\":[-1]}"), p, 0, "net[0].fds: names 1 tap descriptor(s), 0");
	fds_refused_with(NET("{\"fds\":[-1]}"), p, 1, "net[0].fds[0]: descriptor");
	fds_refused_with(NET("{\"tap\":\"t\"}"), p, 1, "1 tap descriptor(s) came");
	fds_refused_with(NET("{\"tap\":\"t\",\"fds\":[-1]}"), p, 1, "net[0].fds: give tap or");
	fds_refused_with(NET("{\"vhost_user\":true,\"vhost_socket\":\"/s\",\"fds\":[-1]}"), p, 1,
			 "net[0].vhost_socket");
	fds_refused_with(NET("{\"fds\":[-1],\"num_queues\":4}"), p, 1, "net[0].num_queues");
	static const char *const shapes[] = {
		"\"x\"", "[]", "[\"3\"]", "[1.5]", "[1,2,3,4,5,6,7,8,9]", "{}"};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), NET("{\"fds\":%s}"), shapes[i]);
		fds_refused_with(body, p, 1, "net[0].fds");
	}
	/* vm.add-net: a pipe for the tap; the NIC is not added, the pipe not taken. */
	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	const char *b = NET("{\"tap\":\"t0\"}");
	assert_int_equal(vmm_vmconfig_parse(b, strlen(b), NULL, 0, &vc, &err), 0);
	int fds[2] = {p[0], p[1]};
	assert_int_equal(vmm_vmconfig_add_net(&vc, "{}", 2, fds, 1, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NetConfig.fds[0]"));
	assert_int_equal(vmm_vmconfig_add_net(&vc, "{\"tap\":\"t1\"}", 12, fds, 2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "NetConfig.fds: give tap or"));
	assert_int_equal(vc.cfg.nr_nets, 1);
	assert_true(fds[0] == p[0] && fds[1] == p[1] && is_open(p[0]) && is_open(p[1]));
	vmm_vmconfig_free(&vc);
	close(p[0]);
	close(p[1]);
}

static void need_taps(void)
{
	int ret = tap_netns();
	if (ret) {
		print_message("no taps here (%s): skipped\n", strerror(-ret));
		skip();
	}
}

/* Descriptors handed out in net[] order, owned once accepted (the caller's slots -1), written
 * back as Cloud Hypervisor does (-1 each, no tap), closed by vmm_vmconfig_free; a body refused
 * after a NIC took some leaves them the caller's. */
static void fds_taken(void **state)
{
	(void)state;
	need_taps();
	int a = tap_make("ut-a", TAP_FLAGS), b0 = tap_make("ut-b", TAP_FLAGS | IFF_MULTI_QUEUE),
	    b1 = tap_make("ut-b", TAP_FLAGS | IFF_MULTI_QUEUE), c = tap_make("ut-c", TAP_FLAGS);
	assert_true(a >= 0 && b0 >= 0 && b1 >= 0 && c >= 0);

	/* Refused at net[1] after net[0] took its descriptor: both stay the caller's. */
	int two[2] = {a, c};
	fds_refused_with(NET("{\"fds\":[-1]},{\"fds\":[-1],\"iommu\":true}"), two, 2,
			 "net[1].iommu");
	fds_refused_as(NET("{\"fds\":[-1],\"id\":\"x\"},{\"fds\":[-1],\"id\":\"x\"}"), two, 2,
		       -EEXIST, "net[1].id");
	int d = tap_make("ut-d", TAP_FLAGS | IFF_MULTI_QUEUE);
	assert_true(d >= 0);
	int mixed[2] = {b0, d};
	fds_refused_with(NET("{\"fds\":[0,0],\"num_queues\":4}"), mixed, 2,
			 "net[0].fds[1]: a queue of tap ut-d, fds[0] is of ut-b");

	struct vmm_vmconfig vc;
	struct host_err err = {{0}};
	int fds[3] = {a, b0, b1};
	const char *body = NET("{\"fds\":[-1],\"id\":\"n0\"},{\"tap\":\"named\"},"
			       "{\"fds\":[7,7],\"num_queues\":4,\"mac\":\"52:54:00:00:00:02\"}");
	if (vmm_vmconfig_parse(body, strlen(body), fds, 3, &vc, &err))
		fail_msg("refused: %s", err.msg);
	const struct vmm_net_config *n = vc.cfg.nets;
	assert_int_equal(vc.cfg.nr_nets, 3);
	assert_int_equal(n[0].tap.nfds, 1);
	assert_int_equal(n[0].tap.fd[0], a);
	assert_int_equal(n[1].tap.nfds, 0);
	assert_string_equal(n[1].tap.name, "named");
	assert_int_equal(n[2].tap.nfds, 2);
	assert_int_equal(n[2].tap.queues, 2);
	assert_true(n[2].tap.fd[0] == b0 && n[2].tap.fd[1] == b1);
	assert_true(fds[0] == -1 && fds[1] == -1 && fds[2] == -1);

	int more[1] = {c};
	assert_int_equal(vmm_vmconfig_add_net(&vc, "{\"id\":\"n3\"}", 11, more, 1, &err), 0);
	assert_int_equal(more[0], -1);
	assert_int_equal(vc.cfg.nets[3].tap.fd[0], c);

	struct jsonw w = {0};
	vmm_vmconfig_write(&w, &vc);
	char *s = jsonw_take(&w);
	assert_non_null(strstr(s, "{\"vhost_user\":false,\"fds\":[-1],\"num_queues\":2"));
	assert_non_null(
		strstr(s, "\"fds\":[-1,-1],\"mac\":\"52:54:00:00:00:02\",\"num_queues\":4"));
	assert_non_null(strstr(s, "\"tap\":\"named\""));
	assert_null(strstr(s, "ut-"));
	free(s);

	vmm_vmconfig_free(&vc);
	assert_false(is_open(a) || is_open(b0) || is_open(b1) || is_open(c));
	assert_true(is_open(d)); /* never taken */
	close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fds_refused),
		cmocka_unit_test(fds_taken),
		cmocka_unit_test(client_config_accepted),
		cmocka_unit_test(unknown_fields),
		cmocka_unit_test(unsupported_values),
		cmocka_unit_test(bad_values),
		cmocka_unit_test(duplicate_ids),
		cmocka_unit_test(round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
