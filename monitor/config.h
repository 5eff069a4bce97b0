/* SPDX-License-Identifier: MIT */
/* What the command line asks for: filled by cli.c, read by the VM. */
#ifndef VMMON_CONFIG_H
#define VMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "console.h"
#include "host/blk.h"
#include "host/net.h"
#include "host/opts.h"

#define VMM_MAX_DISKS 8
#define VMM_MAX_NETS  4

/* The order of the words the options accept (transport=pci|mmio, and |ata for --disk). */
enum vmm_transport { VMM_TRANSPORT_PCI, VMM_TRANSPORT_MMIO, VMM_TRANSPORT_ATA };

#define VMM_MAX_ATA_DISKS 4 /* two channels, master and slave */

/* The ATA disk's world-switch optimisations (opt=, in this order; default all): task-file
 * writes, PIO data-out writes, and the bus-master PRD table address and status writes through
 * KVM's coalesced PIO ring; the DMA command bytes and the bus-master start and stop as
 * doorbells (datamatched ioeventfds read in order with that ring). */
enum {
	VMM_ATA_OPT_TASKFILE = 1u << 0,
	VMM_ATA_OPT_DATA = 1u << 1,
	VMM_ATA_OPT_BM = 1u << 2,
	VMM_ATA_OPT_CMD = 1u << 3,
};
#define VMM_ATA_OPT_ALL	  (VMM_ATA_OPT_TASKFILE | VMM_ATA_OPT_DATA | VMM_ATA_OPT_BM | VMM_ATA_OPT_CMD)
#define VMM_ATA_OPT_WORDS "taskfile", "data", "bm", "cmd"

/* --disk path=FILE[,readonly=on][,queues=N][,direct=on][,transport=pci|mmio|ata][,serial=ID]
 *        [,boot=on][,opt=LIST] (opt: transport=ata)
 * or --disk vhost-user=SOCKET[,transport=pci|mmio] */
struct vmm_disk_config {
	struct host_blk_opts blk; /* path points into `owned`; NULL with vhost_user */
	const char *vhost_user;	  /* a back-end's socket instead of path, or NULL */
	char *owned;		  /* the option's parsed copy, freed by vmm_config_free */
	enum vmm_transport transport;
	bool boot;		 /* boot=on: the firmware's first boot device (--firmware only) */
	struct host_opt_set opt; /* transport=ata: VMM_ATA_OPT_* */
};

/* The order of the words --net model= accepts: the NIC the guest sees. */
enum vmm_net_model { VMM_NET_VIRTIO, VMM_NET_PCNET };

/* The PCnet's world-switch optimisations (opt=, in this order; default all), after the seed
 * paper: RAP writes through KVM's coalesced PIO ring, the transmit demand as an ioeventfd,
 * send combining, interrupt coalescing. */
enum {
	VMM_PCNET_OPT_RAP = 1u << 0,
	VMM_PCNET_OPT_TDMD = 1u << 1,
	VMM_PCNET_OPT_COMBINE = 1u << 2,
	VMM_PCNET_OPT_COALESCE = 1u << 3,
};
#define VMM_PCNET_OPT_ALL   0xfu
#define VMM_PCNET_OPT_WORDS "rap", "tdmd", "combine", "coalesce"

/* Send combining's and interrupt coalescing's bounds (the paper's: 3 frames, one tick). */
#define VMM_PCNET_COMBINE_FRAMES 3
#define VMM_PCNET_COMBINE_MAX	 32 /* the NIC's transmit buffers (PCNET_PCI_TX_SLOTS) */
#define VMM_PCNET_COMBINE_US	 1000
#define VMM_PCNET_COALESCE_US	 100
#define VMM_PCNET_COALESCE_MAX	 8 /* events after which a held interrupt goes at once */

/* --net tap=NAME[,mac=MAC][,queues=N][,transport=pci|mmio][,model=virtio|pcnet][,opt=LIST]...
 * or --net vhost-user=SOCKET[,mac=MAC][,transport=pci|mmio] */
struct vmm_net_config {
	struct host_tap_opts tap; /* tap.nfds: queues passed by the API (SCM_RIGHTS), owned */
	char vhost_user[108];	  /* a back-end's socket instead of a tap */
	enum vmm_transport transport;
	enum vmm_net_model model; /* pcnet: an AMD PCnet-PCI II on PCI, one queue, a tap */
	struct host_opt_set opt;  /* model=pcnet: VMM_PCNET_OPT_* */
	unsigned combine_frames, combine_us, coalesce_us;
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
	/* --api-socket: the management API (monitor/api/) */
	struct vmm_api_socket_opts api;
	bool api_given;
	/* --event-monitor path=PATH|fd=N */
	struct vmm_event_opts events;
	bool events_given;
};

/* Frees what parsing allocated, and closes the tap descriptors the API passed (tap.fd[]). */
void vmm_config_free(struct vmm_config *cfg);

#endif
