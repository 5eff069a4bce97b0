/* SPDX-License-Identifier: MIT */
/*
 * ioproxy's command line. Devices are (socket, device) pairs taken in order:
 *   --socket PATH | --socket-path=PATH | --fd=FD          the vhost-user socket of a device
 *   --blk path=FILE[,readonly=on][,direct=on][,queues=N][,serial=ID] | --blk-file=PATH
 *   --net tap=NAME[,queues=N][,mac=MAC]
 * plus --read-only (every block device), --poll[=USEC], --poll-window=USEC, --threads N,
 * --user NAME,
 * --fixed-buffers=on|off|auto, --print-capabilities, --help, --version.
 */
#ifndef IOPROXY_CLI_H
#define IOPROXY_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "host/blk.h"
#include "host/err.h"
#include "host/net.h"

/* Sockets (devices) one process serves; each costs a few file descriptors, which main.c makes
 * sure the process may open. */
#define IOP_MAX_DEVICES	    1024
#define IOP_MAX_THREADS	    64
#define IOP_DEFAULT_POLL_US 100
#define IOP_MAX_POLL_US	    1000000
/* Event mode's poll window (proxy/window.h): the bound, in microseconds. */
#define IOP_DEFAULT_POLL_WINDOW_US 200
#define IOP_MAX_POLL_WINDOW_US	   1000

enum iop_dev_kind { IOP_DEV_BLK, IOP_DEV_NET };

struct iop_dev_cfg {
	enum iop_dev_kind kind;
	const char *socket;	  /* path to listen on, or NULL with listen_fd >= 0 */
	int listen_fd;		  /* --fd: an already listening socket, else -1 */
	struct host_blk_opts blk; /* path points into the config's owned copy */
	struct host_tap_opts net;
};

enum iop_cli_action { IOP_CLI_RUN, IOP_CLI_HELP, IOP_CLI_VERSION, IOP_CLI_CAPABILITIES };

/* --fixed-buffers: guest memory registered with io_uring (pinned) or not; auto: with --poll. */
enum iop_fixed_bufs { IOP_FIXED_AUTO, IOP_FIXED_ON, IOP_FIXED_OFF };

struct iop_config {
	struct iop_dev_cfg dev[IOP_MAX_DEVICES];
	unsigned ndev;
	unsigned threads;
	bool poll;
	unsigned poll_us;
	unsigned window_us; /* --poll-window (event mode); 0: off */
	enum iop_fixed_bufs fixed_bufs;
	const char *user; /* --user: drop to this account after setup */
	bool seccomp;	  /* the allow-list (off only with --no-seccomp, for debugging) */
	bool caps_net;	  /* --print-capabilities: a --net was given, report type "net" */
	char *owned[IOP_MAX_DEVICES];
};

/* Returns what to do, or -errno with a one-line message in err. argv is not modified and
 * must outlive cfg (paths point into it). */
int iop_cli_parse(int argc, char **argv, struct iop_config *cfg, struct host_err *err);
void iop_cli_free(struct iop_config *cfg);
/* Whether guest memory is registered as fixed buffers, after auto is resolved. */
bool iop_cli_fixed_bufs(const struct iop_config *cfg);
extern const char iop_cli_usage[];
/* The --print-capabilities JSON (vhost-user.json's VHostUserBackendCapabilities). */
const char *iop_cli_capabilities(const struct iop_config *cfg);

#endif
