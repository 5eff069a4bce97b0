/* SPDX-License-Identifier: MIT */
/* What the command line asks for: filled by cli.c, read by the VM. */
#ifndef VMMON_CONFIG_H
#define VMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "host/blk.h"
#include "host/net.h"

#define VMM_MAX_DISKS 8
#define VMM_MAX_NETS  4

/* The order of the words the options accept (transport=pci|mmio, and |ata for --disk). */
enum vmm_transport { VMM_TRANSPORT_PCI, VMM_TRANSPORT_MMIO, VMM_TRANSPORT_ATA };

#define VMM_MAX_ATA_DISKS 4 /* two channels, master and slave */

/* --disk path=FILE[,readonly=on][,queues=N][,direct=on][,transport=pci|mmio|ata][,serial=ID]
 *        [,boot=on]
 * or --disk vhost-user=SOCKET[,transport=pci|mmio] */
struct vmm_disk_config {
	struct host_blk_opts blk; /* path points into `owned`; NULL with vhost_user */
	const char *vhost_user;	  /* a back-end's socket instead of path, or NULL */
	char *owned;		  /* the option's parsed copy, freed by vmm_config_free */
	enum vmm_transport transport;
	bool boot; /* boot=on: the firmware's first boot device (--firmware only) */
};

/* The order of the words --net model= accepts: the NIC the guest sees. */
enum vmm_net_model { VMM_NET_VIRTIO, VMM_NET_PCNET };

/* --net tap=NAME[,mac=MAC][,queues=N][,transport=pci|mmio][,model=virtio|pcnet]
 * or --net vhost-user=SOCKET[,mac=MAC][,transport=pci|mmio] */
struct vmm_net_config {
	struct host_tap_opts tap;
	char vhost_user[108]; /* a back-end's socket instead of a tap */
	enum vmm_transport transport;
	enum vmm_net_model model; /* pcnet: an AMD PCnet-PCI II on PCI, one queue, a tap */
};

#define VMM_DEFAULT_CPUS   1
#define VMM_DEFAULT_MEMORY (512ull << 20)

struct vmm_config {
	const char *kernel;    /* --kernel, or NULL with --firmware */
	const char *firmware;  /* --firmware: a BIOS image started at the reset vector, or NULL */
	const char *initramfs; /* NULL: none */
	const char *cmdline;   /* never NULL */
	bool cmdline_given;    /* --cmdline appeared (even empty): refused with --firmware */
	unsigned cpus;
	uint64_t memory;
	enum vmm_serial_mode serial;
	const char *serial_path;
	enum vmm_serial_mode debugcon; /* port 0x402 (--debugcon): off unless asked for */
	const char *debugcon_path;
	bool stats; /* print exit counts on stderr when the VM ends */
	struct vmm_disk_config disks[VMM_MAX_DISKS];
	unsigned nr_disks;
	struct vmm_net_config nets[VMM_MAX_NETS];
	unsigned nr_nets;
	bool virtio_console; /* --console virtio: stdin/stdout on a virtio console */
	enum vmm_transport console_transport;
	bool rng; /* --rng */
	enum vmm_transport rng_transport;
};

/* Frees what parsing allocated. */
void vmm_config_free(struct vmm_config *cfg);

#endif
