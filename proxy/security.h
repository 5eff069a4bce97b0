/* SPDX-License-Identifier: MIT */
/*
 * Least privilege, once set up: the files, taps and sockets are open, so ioproxy needs
 * neither root nor most syscalls any more.
 *   - iop_security_drop: with --user (as root) switches to that account; as root or not, keeps
 *     only the capabilities still needed (CAP_IPC_LOCK, to pin guest memory for io_uring's
 *     registered buffers beyond RLIMIT_MEMLOCK; CAP_NET_ADMIN when a multi-queue tap must
 *     attach and detach queues) and empties the bounding set.
 *   - iop_security_seccomp: a libseccomp allow-list of the syscalls the serving loop and the
 *     queue threads make, on every thread (TSYNC), anything else killing the process.
 */
#ifndef IOPROXY_SECURITY_H
#define IOPROXY_SECURITY_H

#include <stdbool.h>

#include "host/err.h"

int iop_security_drop(const char *user, bool net_admin, struct host_err *err);
int iop_security_seccomp(struct host_err *err);

#endif
