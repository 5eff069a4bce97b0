/* SPDX-License-Identifier: MIT */
/*
 * The control thread: each device listens on its own socket and serves one front-end at a
 * time; when that front-end goes, its rings are stopped and drained and the device waits for
 * the next connection (a front-end that comes back resumes, with the inflight region it
 * kept). A front-end whose memory vanished under a mapping (fault.h: the SIGBUS handler's
 * eventfd, polled with the sockets) is dropped before its next message is served. SIGTERM and
 * SIGINT, read through a signalfd, end the loop cleanly.
 */
#ifndef IOPROXY_SERVER_H
#define IOPROXY_SERVER_H

#include "cli.h"
#include "host/err.h"
#include "iop.h"

/* Binds and listens on cfg->socket (a stale socket file there is replaced), or adopts the
 * listening socket cfg->listen_fd. */
int iop_server_listen(struct iop_dev *d, const struct iop_dev_cfg *cfg, struct host_err *err);
/* Serves until a signal arrives on sigfd; then disconnects every front-end. Returns 0. */
int iop_server_run(struct iop_dev **devs, unsigned n, int sigfd);

#endif
