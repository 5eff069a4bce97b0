/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "api/server.h"
#include "devopts.h"
#include "layout.h"
#include "mp.h"

#ifndef VMMON_VERSION
#define VMMON_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: vmmon --kernel IMAGE [options]\n"
	"       vmmon --firmware BIOS --disk path=FILE[,boot=on] [options]\n"
	"       vmmon --api-socket PATH [options]   (the VM comes from vm.create)\n"
	"Runs a virtual machine on KVM.\n"
	"\n"
	"  --kernel IMAGE        PVH ELF image or Linux bzImage to boot\n"
	"  --initramfs FILE      initial RAM disk (PVH: module 0; Linux: initrd)\n"
	"  --cmdline STR         kernel command line\n"
	"  --firmware BIOS       boot as a PC does instead: a BIOS image (SeaBIOS's bios.bin or\n"
	"                        bios-256k.bin; a multiple of 64K, at most 256K) mapped below\n"
	"                        4G and copied below 1M, started at the reset vector; it boots\n"
	"                        a disk's boot sector. Excludes --kernel, --initramfs, --cmdline\n"
	"  --cpus N              number of vCPUs, 1-254 (also boot=N; default 1)\n"
	"  --memory SIZE         guest RAM, e.g. 512M or 2G (also size=SIZE; default 512M)\n"
	"  --serial MODE         COM1: stdio (default), file=PATH, or off (with --firmware,\n"
	"                        SeaBIOS's screen output appears here too)\n"
	"  --debugcon MODE       debug console at port 0x402 (reads 0xE9), where SeaBIOS logs:\n"
	"                        file=PATH, stdio, or off (default)\n"
	"  --disk path=FILE[,readonly=on][,queues=N][,direct=on][,transport=pci|mmio][,serial=ID]\n"
	"                        a virtio-blk disk (repeatable)\n"
	"  --disk ...,boot=on    with --firmware: boot from this disk first (default: the first\n"
	"                        --disk); ATA and virtio-blk on PCI\n"
	"  --disk path=FILE,transport=ata[,readonly=on][,direct=on][,serial=ID][,opt=LIST]\n"
	"                        an ATA disk on the PIIX IDE controller (up to 4: primary\n"
	"                        master, primary slave, secondary master, secondary slave);\n"
	"                        opt= the writes that skip an exit: all (default), none, or\n"
	"                        names joined by '+' from taskfile (task-file registers),\n"
	"                        data (PIO data-out words), bm (bus-master table address\n"
	"                        and status), all three through KVM's coalesced PIO ring,\n"
	"                        and cmd (the DMA command bytes and the bus-master start and\n"
	"                        stop as datamatched ioeventfds)\n"
	"  --disk vhost-user=SOCKET[,transport=pci|mmio]\n"
	"                        a virtio-blk disk served by a vhost-user back-end (ioproxy)\n"
	"  --net tap=NAME[,mac=MAC][,queues=N][,transport=pci|mmio][,model=virtio|pcnet]\n"
	"                        a NIC on a host tap (repeatable): virtio-net (the default), or\n"
	"                        with model=pcnet an AMD PCnet-PCI II (Am79C970A, one queue,\n"
	"                        PCI) for guests without virtio drivers\n"
	"  --net tap=NAME,model=pcnet[,opt=LIST][,combine_frames=N][,combine_us=US]\n"
	"        [,coalesce_us=US]\n"
	"                        the PCnet's world-switch optimisations (the seed paper's):\n"
	"                        all (default), none, or names joined by '+' from rap (RAP\n"
	"                        and PROM writes through KVM's coalesced PIO ring), tdmd (the\n"
	"                        transmit demand as an ioeventfd), combine (frames wait for\n"
	"                        combine_frames demands, 3, or combine_us, 1000), coalesce\n"
	"                        (interrupts wait up to coalesce_us, 100, or 8 frames)\n"
	"  --net vhost-user=SOCKET[,mac=MAC][,transport=pci|mmio]\n"
	"                        a virtio-net device served by a vhost-user back-end\n"
	"  --console virtio[,transport=pci|mmio]\n"
	"                        a virtio console on stdin/stdout (COM1 still prints)\n"
	"  --rng[=transport=pci|mmio]  a virtio entropy device\n"
	"  --api-socket PATH     serve the management API (Cloud Hypervisor's REST dialect,\n"
	"                        /api/v1/...) on a Unix socket; also path=PATH, or fd=N for a\n"
	"                        socket already listening (from a supervisor). A stale socket\n"
	"                        file is replaced, a live one refused; PATH.lock guards it.\n"
	"                        Without --kernel or --firmware, vmmon waits for vm.create\n"
	"  --event-monitor path=PATH|fd=N\n"
	"                        write the VM's events there, one JSON object a line (Cloud\n"
	"                        Hypervisor's: vmm:starting, vm:booted, vm:paused, ...)\n"
	"  --stats               print exit counts on stderr when the VM ends (with what\n"
	"                        each device's optimisations spared)\n"
	"  -h, --help            print this help\n"
	"  -V, --version         print the version\n"
	"\n"
	"Exit status: the value the guest wrote to the debug-exit port (0xf4; 255 if larger);\n"
	"0 when the guest resets; 1 on a vmmon error; 2 when the guest crashes (triple fault, KVM\n"
	"internal error); 128+N when killed by signal N. With --firmware a reset (i8042, port\n"
	"0xCF9 or 0x92, triple fault) restarts the machine from a fresh copy of the firmware.\n"
	"Environment: VMMON_KVM_DEVICE overrides /dev/kvm.\n";

enum {
	OPT_KERNEL = 256,
	OPT_INITRAMFS,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_SERIAL,
	OPT_STATS,
	OPT_DISK,
	OPT_NET,
	OPT_CONSOLE,
	OPT_RNG,
	OPT_FIRMWARE,
	OPT_DEBUGCON,
	OPT_API_SOCKET,
	OPT_EVENT_MONITOR,
};

static const struct option options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initramfs", required_argument, NULL, OPT_INITRAMFS},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"stats", no_argument, NULL, OPT_STATS},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"console", required_argument, NULL, OPT_CONSOLE},
	{"rng", optional_argument, NULL, OPT_RNG},
	{"firmware", required_argument, NULL, OPT_FIRMWARE},
	{"debugcon", required_argument, NULL, OPT_DEBUGCON},
	{"api-socket", required_argument, NULL, OPT_API_SOCKET},
	{"event-monitor", required_argument, NULL, OPT_EVENT_MONITOR},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{0},
};

/* Accepts "VALUE" or "KEY=VALUE" (Cloud Hypervisor's form), returning VALUE. */
static const char *strip_key(const char *arg, const char *key)
{
	size_t n = strlen(key);
	return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : arg;
}

int vmm_parse_size(const char *s, uint64_t *out)
{
	s = strip_key(s, "size");
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"", 0},	  {"B", 0},  {"K", 10},	  {"KiB", 10}, {"M", 20},
		     {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40},
		     {"k", 10},	  {"m", 20}, {"g", 30},	  {"t", 40}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -EINVAL;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

static int parse_cpus(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	const char *s = strip_key(arg, "boot");
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || n < 1 || n > VMM_MP_MAX_CPUS)
		return host_err_set(err, EINVAL,
				    "--cpus %s: give a vCPU count from 1 to %u, e.g. "
				    "--cpus 2",
				    arg, VMM_MP_MAX_CPUS);
	cfg->cpus = (unsigned)n;
	return 0;
}

static int parse_memory(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	uint64_t v;
	if (vmm_parse_size(arg, &v))
		return host_err_set(err, EINVAL, "--memory %s: give a size such as 512M or 2G",
				    arg);
	if (v < LAYOUT_MIN_RAM || v > LAYOUT_MAX_RAM)
		return host_err_set(err, EINVAL, "--memory %s: must be between 4M and 1T", arg);
	if (v % 4096)
		return host_err_set(err, EINVAL, "--memory %s: must be a multiple of 4K", arg);
	cfg->memory = v;
	return 0;
}

/* --serial and --debugcon: where a character device's output goes. */
static int parse_output(const char *opt, const char *arg, enum vmm_serial_mode *mode,
			const char **path, struct host_err *err)
{
	if (strcmp(arg, "stdio") == 0) {
		*mode = VMM_SERIAL_STDIO;
	} else if (strcmp(arg, "off") == 0 || strcmp(arg, "null") == 0) {
		*mode = VMM_SERIAL_OFF;
	} else if (strncmp(arg, "file=", 5) == 0 && arg[5]) {
		*mode = VMM_SERIAL_FILE;
		*path = arg + 5;
	} else {
		return host_err_set(err, EINVAL, "%s %s: use stdio, file=PATH or off", opt, arg);
	}
	return 0;
}

static int parse_disk(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	struct vmm_disk_config *d = &cfg->disks[cfg->nr_disks++];
	int ret = vmm_parse_disk(arg, d, err);
	if (ret || d->transport != VMM_TRANSPORT_ATA)
		return ret;
	unsigned ata = 0;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		ata += cfg->disks[i].transport == VMM_TRANSPORT_ATA;
	if (ata > VMM_MAX_ATA_DISKS)
		return host_err_set(
			err, E2BIG,
			"--disk %s: at most %d ATA disks (two channels, master and slave)", arg,
			VMM_MAX_ATA_DISKS);
	return 0;
}

/* --api-socket path=PATH | PATH | fd=N */
static int parse_api_socket(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	struct vmm_api_socket_opts *o = &cfg->api;
	if (cfg->api_given)
		return host_err_set(err, EINVAL,
				    "--api-socket given twice: vmmon serves one socket");
	size_t key = strspn(arg, "abcdefghijklmnopqrstuvwxyz_");
	if (strncmp(arg, "fd=", 3) == 0) {
		char *end;
		errno = 0;
		long fd = strtol(arg + 3, &end, 10);
		if (!isdigit((unsigned char)arg[3]) || *end || errno || fd > INT_MAX)
			return host_err_set(err, EINVAL,
					    "--api-socket %s: give fd=N, the number of a listening "
					    "socket",
					    arg);
		*o = (struct vmm_api_socket_opts){.fd = (int)fd};
		int ret = vmm_api_check_listen_fd(o->fd, err);
		if (ret)
			return ret;
	} else if (strncmp(arg, "path=", 5) == 0 || key == 0 || arg[key] != '=') {
		const char *path = strip_key(arg, "path");
		if (!*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return host_err_set(err, EINVAL,
					    "--api-socket %s: give a socket path of 1 to 107 bytes",
					    arg);
		*o = (struct vmm_api_socket_opts){.path = path, .fd = -1};
	} else {
		return host_err_set(err, EINVAL,
				    "--api-socket %s: unknown key; use PATH, path=PATH or fd=N",
				    arg);
	}
	cfg->api_given = true;
	return 0;
}

/* --event-monitor path=PATH | fd=N */
static int parse_event_monitor(const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	cfg->events = (struct vmm_event_opts){.fd = -1};
	cfg->events_given = true;
	if (!strncmp(arg, "path=", 5) && arg[5]) {
		cfg->events.path = arg + 5;
		return 0;
	}
	char *end;
	errno = 0;
	long fd = strncmp(arg, "fd=", 3) ? -1 : strtol(arg + 3, &end, 10);
	if (fd < 0 || !isdigit((unsigned char)arg[3]) || *end || errno || fd > INT32_MAX)
		return host_err_set(err, EINVAL, "--event-monitor %s: use path=PATH or fd=N", arg);
	cfg->events.fd = (int)fd;
	return 0;
}

static int parse_option(int opt, const char *arg, struct vmm_config *cfg, struct host_err *err)
{
	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel = arg;
		return 0;
	case OPT_INITRAMFS:
		cfg->initramfs = arg;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = arg;
		cfg->cmdline_given = true;
		return 0;
	case OPT_CPUS:
		return parse_cpus(arg, cfg, err);
	case OPT_MEMORY:
		return parse_memory(arg, cfg, err);
	case OPT_SERIAL:
		return parse_output("--serial", arg, &cfg->serial, &cfg->serial_path, err);
	case OPT_DEBUGCON:
		return parse_output("--debugcon", arg, &cfg->debugcon, &cfg->debugcon_path, err);
	case OPT_FIRMWARE:
		cfg->firmware = arg;
		return 0;
	case OPT_STATS:
		cfg->stats = true;
		return 0;
	case OPT_EVENT_MONITOR:
		return parse_event_monitor(arg, cfg, err);
	case OPT_DISK:
		if (cfg->nr_disks == VMM_MAX_DISKS)
			return host_err_set(err, E2BIG, "at most %d --disk options", VMM_MAX_DISKS);
		return parse_disk(arg, cfg, err);
	case OPT_NET:
		if (cfg->nr_nets == VMM_MAX_NETS)
			return host_err_set(err, E2BIG, "at most %d --net options", VMM_MAX_NETS);
		return vmm_parse_net(arg, &cfg->nets[cfg->nr_nets++], err);
	case OPT_CONSOLE:
		return vmm_parse_console(arg, cfg, err);
	case OPT_RNG:
		return vmm_parse_rng(arg, cfg, err);
	case OPT_API_SOCKET:
		return parse_api_socket(arg, cfg, err);
	}
	return host_err_set(err, EINVAL, "unhandled option");
}

/* A firmware finds PCI and ISA devices only: virtio-mmio devices are announced on a kernel's
 * command line (SeaBIOS would need them in ACPI tables, which vmmon does not build). */
static int check_firmware_devices(const struct vmm_config *cfg, struct host_err *err)
{
	const char *mmio = NULL;
	for (unsigned i = 0; i < cfg->nr_disks && !mmio; i++)
		if (cfg->disks[i].transport == VMM_TRANSPORT_MMIO)
			mmio = "--disk";
	for (unsigned i = 0; i < cfg->nr_nets && !mmio; i++)
		if (cfg->nets[i].transport == VMM_TRANSPORT_MMIO)
			mmio = "--net";
	if (!mmio && cfg->virtio_console && cfg->console_transport == VMM_TRANSPORT_MMIO)
		mmio = "--console";
	if (!mmio && cfg->rng && cfg->rng_transport == VMM_TRANSPORT_MMIO)
		mmio = "--rng";
	if (mmio)
		return host_err_set(err, EINVAL,
				    "%s ...,transport=mmio: a firmware cannot find virtio-mmio "
				    "devices (a kernel learns them from its command line); use "
				    "transport=pci with --firmware",
				    mmio);
	return VMM_CLI_RUN;
}

/* What to boot: a kernel, or a firmware that boots a disk; and the options that go with each. */
static int check_boot(struct vmm_config *cfg, struct host_err *err)
{
	if (!cfg->kernel && !cfg->firmware && !cfg->api_given)
		return host_err_set(err, EINVAL,
				    "no --kernel or --firmware given (or --api-socket, to wait for "
				    "vm.create); try vmmon --kernel build/guest-drivers/guest.elf "
				    "--cmdline run=hello");
	if (!cfg->kernel && !cfg->firmware && (cfg->initramfs || cfg->cmdline_given))
		return host_err_set(err, EINVAL,
				    "--initramfs and --cmdline go with --kernel; with only "
				    "--api-socket, vm.create's payload gives them");
	/* Devices without a payload would be dropped unseen: vm.create (or vm.add-disk,
	 * vm.add-net) brings them then. */
	if (!cfg->kernel && !cfg->firmware &&
	    (cfg->nr_disks || cfg->nr_nets || cfg->rng || cfg->virtio_console))
		return host_err_set(
			err, EINVAL,
			"--disk, --net, --rng and --console describe a VM: give them with "
			"--kernel or --firmware, or in vm.create's body with only "
			"--api-socket");
	if (cfg->kernel && cfg->firmware)
		return host_err_set(err, EINVAL,
				    "--kernel and --firmware exclude each other: vmmon loads a "
				    "kernel itself, a firmware boots from a --disk");
	unsigned boot = 0;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		boot += cfg->disks[i].boot;
	if (boot && !cfg->firmware)
		return host_err_set(err, EINVAL,
				    "--disk ...,boot=on picks the firmware's boot disk: it needs "
				    "--firmware");
	if (boot > 1)
		return host_err_set(err, EINVAL, "boot=on is given to %u disks: give it to one",
				    boot);
	if (!cfg->firmware)
		return VMM_CLI_RUN;
	if (cfg->initramfs || cfg->cmdline_given)
		return host_err_set(err, EINVAL,
				    "--initramfs and --cmdline go with --kernel; with --firmware "
				    "the boot loader on the disk loads the kernel");
	return check_firmware_devices(cfg, err);
}

int vmm_cli_parse(int argc, char **argv, struct vmm_config *cfg, struct host_err *err)
{
	*cfg = (struct vmm_config){.cmdline = "",
				   .cpus = VMM_DEFAULT_CPUS,
				   .memory = VMM_DEFAULT_MEMORY,
				   .serial = VMM_SERIAL_STDIO,
				   .debugcon = VMM_SERIAL_OFF,
				   .api = {.fd = -1}};

	opterr = 0; /* our own one-line messages */
	optind = 0; /* glibc: 0 also resets getopt's internal state, so parsing can repeat */
	int opt;
	while ((opt = getopt_long(argc, argv, ":hV", options, NULL)) != -1) {
		const char *arg = argv[optind - 1];
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			return VMM_CLI_DONE;
		case 'V':
			printf("vmmon %s\n", VMMON_VERSION);
			return VMM_CLI_DONE;
		case ':':
			return host_err_set(err, EINVAL, "%s needs a value; see vmmon --help", arg);
		case '?':
			return host_err_set(err, EINVAL, "unknown option %s; see vmmon --help",
					    arg);
		default: {
			int ret = parse_option(opt, optarg, cfg, err);
			if (ret)
				return ret;
		}
		}
	}
	if (optind < argc)
		return host_err_set(err, EINVAL,
				    "unexpected argument '%s'; options take the form "
				    "--name value, see vmmon --help",
				    argv[optind]);
	return check_boot(cfg, err);
}
