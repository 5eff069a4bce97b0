/* SPDX-License-Identifier: MIT */
/*
 * Cloud Hypervisor's VmConfig (its OpenAPI schema's names) <-> vmmon's struct vmm_config. A
 * field vmmon cannot honour is refused naming it; a field at the value that asks for nothing
 * (cpus.max_vcpus equal to boot_vcpus, memory.shared true, iommu false, ...) is accepted.
 */
#ifndef VMMON_API_VMCONFIG_H
#define VMMON_API_VMCONFIG_H

#include "config.h"
#include "host/err.h"
#include "json.h"
#include "jsonw.h"

/* ConsoleMode, as the dialect spells it (serial and console). */
enum vmm_console_mode {
	VMM_CON_OFF,
	VMM_CON_NULL,
	VMM_CON_FILE,
	VMM_CON_TTY,
};

#define VMM_VMCONFIG_MAX_STRINGS (8 + VMM_MAX_DISKS)

/* A configuration and everything it points to (paths, ids), owned. */
struct vmm_vmconfig {
	struct vmm_config cfg;
	char *disk_id[VMM_MAX_DISKS];
	char *net_id[VMM_MAX_NETS];
	char *rng_id;
	enum vmm_console_mode serial, console;
	char *strings[VMM_VMCONFIG_MAX_STRINGS]; /* payload paths, files, sockets */
	unsigned nr_strings;
};

/* A VmConfig body into vc (emptied first), with the tap descriptors the request brought
 * (fds[0..nfds), SCM_RIGHTS): each net[] entry with an `fds` array takes as many, in order,
 * each checked to be a tap queue vmmon can use (host_tap_check_fd), one a queue pair. Returns
 * 0, the descriptors taken now vc's (their slots in fds set to -1; vmm_vmconfig_free closes
 * them); or -EINVAL (400: bad JSON, an unknown or unsupported field, a bad value, a descriptor
 * that is no usable tap, or more or fewer descriptors than the body names) or -EEXIST (409: two
 * devices with one id), with err naming the field, and fds left as they were. */
int vmm_vmconfig_parse(const char *body, size_t len, int *fds, unsigned nfds,
		       struct vmm_vmconfig *vc, struct host_err *err);
/* vm.add-disk and vm.add-net: a DiskConfig or NetConfig body appended to vc (cold plug). The
 * same returns, and -E2BIG (400) when the VM has all the devices it can take. The NIC takes
 * every descriptor of fds[0..nfds) (an `fds` array, if given, must have as many items), as
 * vmm_vmconfig_parse does. */
int vmm_vmconfig_add_disk(struct vmm_vmconfig *vc, const char *body, size_t len,
			  struct host_err *err);
int vmm_vmconfig_add_net(struct vmm_vmconfig *vc, const char *body, size_t len, int *fds,
			 unsigned nfds, struct host_err *err);
/* Takes over a command line's configuration (its strings live in argv): ids and console modes
 * as the API would have given them. *cfg is left empty. */
void vmm_vmconfig_adopt(struct vmm_vmconfig *vc, struct vmm_config *cfg);
/* The VmConfig JSON of vc, defaults filled in (vm.info's "config"). */
void vmm_vmconfig_write(struct jsonw *w, const struct vmm_vmconfig *vc);
void vmm_vmconfig_free(struct vmm_vmconfig *vc);

#endif
