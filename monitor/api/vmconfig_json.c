/* SPDX-License-Identifier: MIT */
/* vm.info's "config": a VmConfig with what vmmon does written out, so that it goes back through
 * vm.create unchanged (every field at a value vmconfig.c accepts). */
#include <inttypes.h>
#include <stdio.h>

#include "vmconfig.h"

static const char *const mode_names[] = {"Off", "Null", "File", "Tty"};

static void key_str(struct jsonw *w, const char *key, const char *s)
{
	jsonw_printf(w, ",\"%s\":", key);
	jsonw_str(w, s);
}

static void payload(struct jsonw *w, const struct vmm_config *c)
{
	jsonw_raw(w, "\"payload\":{");
	if (c->firmware) {
		jsonw_raw(w, "\"firmware\":");
		jsonw_str(w, c->firmware);
	} else {
		jsonw_raw(w, "\"kernel\":");
		jsonw_str(w, c->kernel);
		key_str(w, "cmdline", c->cmdline ? c->cmdline : "");
		if (c->initramfs)
			key_str(w, "initramfs", c->initramfs);
	}
	jsonw_raw(w, "}");
}

static void disks(struct jsonw *w, const struct vmm_vmconfig *vc)
{
	jsonw_raw(w, ",\"disks\":[");
	for (unsigned i = 0; i < vc->cfg.nr_disks; i++) {
		const struct vmm_disk_config *d = &vc->cfg.disks[i];
		jsonw_raw(w, i ? ",{" : "{");
		if (d->vhost_user) {
			jsonw_raw(w, "\"vhost_user\":true,\"vhost_socket\":");
			jsonw_str(w, d->vhost_user);
			jsonw_raw(w, ",\"num_queues\":1,\"image_type\":\"Unknown\"");
		} else {
			jsonw_raw(w, "\"path\":");
			jsonw_str(w, d->blk.path);
			jsonw_printf(w,
				     ",\"readonly\":%s,\"direct\":%s,\"num_queues\":%u,"
				     "\"vhost_user\":false,\"image_type\":\"Raw\"",
				     d->blk.readonly ? "true" : "false",
				     d->blk.direct ? "true" : "false", d->blk.queues);
			if (d->blk.serial[0])
				key_str(w, "serial", d->blk.serial);
		}
		jsonw_raw(w, ",\"iommu\":false,\"queue_size\":128,\"pci_segment\":0");
		key_str(w, "id", vc->disk_id[i]);
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]");
}

static void nets(struct jsonw *w, const struct vmm_vmconfig *vc)
{
	jsonw_raw(w, ",\"net\":[");
	for (unsigned i = 0; i < vc->cfg.nr_nets; i++) {
		const struct vmm_net_config *n = &vc->cfg.nets[i];
		jsonw_raw(w, i ? ",{" : "{");
		if (n->vhost_user[0]) {
			jsonw_raw(
				w,
				"\"vhost_user\":true,\"vhost_mode\":\"Client\",\"vhost_socket\":");
			jsonw_str(w, n->vhost_user);
		} else if (n->tap.nfds) {
			/* As Cloud Hypervisor writes them: one -1 a descriptor (a number means
			 * nothing outside vmmon), and no tap name (none was given). */
			jsonw_raw(w, "\"vhost_user\":false,\"fds\":[");
			for (unsigned k = 0; k < n->tap.nfds; k++)
				jsonw_raw(w, k ? ",-1" : "-1");
			jsonw_raw(w, "]");
		} else {
			jsonw_raw(w, "\"vhost_user\":false,\"tap\":");
			jsonw_str(w, n->tap.name);
		}
		if (n->tap.mac.set) {
			const uint8_t *m = n->tap.mac.addr;
			jsonw_printf(w, ",\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\"", m[0], m[1],
				     m[2], m[3], m[4], m[5]);
		}
		jsonw_printf(w,
			     ",\"num_queues\":%u,\"queue_size\":256,\"iommu\":false,"
			     "\"pci_segment\":0,\"offload_tso\":false,\"offload_ufo\":false,"
			     "\"offload_csum\":false",
			     2 * (n->tap.queues ? n->tap.queues : 1));
		key_str(w, "id", vc->net_id[i]);
		jsonw_raw(w, "}");
	}
	jsonw_raw(w, "]");
}

static void console(struct jsonw *w, const char *key, enum vmm_console_mode m, const char *file,
		    bool device)
{
	jsonw_printf(w, ",\"%s\":{\"mode\":\"%s\"", key, mode_names[m]);
	if (m == VMM_CON_FILE)
		key_str(w, "file", file);
	if (device)
		jsonw_raw(w, ",\"iommu\":false");
	jsonw_raw(w, "}");
}

void vmm_vmconfig_write(struct jsonw *w, const struct vmm_vmconfig *vc)
{
	const struct vmm_config *c = &vc->cfg;
	jsonw_printf(w,
		     "{\"cpus\":{\"boot_vcpus\":%u,\"max_vcpus\":%u,\"kvm_hyperv\":false},"
		     "\"memory\":{\"size\":%" PRIu64
		     ",\"shared\":true,\"mergeable\":false,\"hugepages\":false,"
		     "\"hotplug_method\":\"Acpi\"},",
		     c->cpus, c->cpus, c->memory);
	payload(w, c);
	disks(w, vc);
	nets(w, vc);
	if (c->rng) {
		jsonw_raw(w, ",\"rng\":{\"src\":\"/dev/urandom\",\"iommu\":false");
		key_str(w, "id", vc->rng_id);
		jsonw_raw(w, "}");
	}
	console(w, "serial", vc->serial, c->serial_path, false);
	console(w, "console", vc->console, NULL, true);
	jsonw_raw(w, ",\"iommu\":false,\"watchdog\":false,\"pvpanic\":false}");
}
