/* SPDX-License-Identifier: MIT */
/*
 * Guest memory that vanishes under ioproxy. A front-end owns the files behind its memory
 * regions; if it shrinks one (ftruncate) after ioproxy mapped it, the next access to a page
 * past the new end raises SIGBUS on whichever thread makes it (a queue thread reading its ring,
 * the control thread preparing one), and SIGBUS kills the process, with it every device it
 * serves for other front-ends. mem.c seals what can be sealed (F_SEAL_SHRINK); this module
 * survives the rest.
 *
 * Every guest mapping (and each inflight region from a front-end) is entered in one fixed,
 * process-wide table, with the owning device's fault flag. A SIGBUS handler looks the faulting
 * address up there; inside a mapping, it puts private zero pages over the whole mapping
 * (mmap MAP_FIXED|MAP_ANONYMOUS), so the access that faulted and every later one completes
 * harmlessly on memory nobody else sees, raises the flag and rings an eventfd. The control
 * thread wakes on it and drops that front-end as it does one that breaks the protocol; the
 * other devices never notice. Anywhere else, SIGBUS keeps its former action (the default:
 * the process dies with a core; a sanitizer's report in a sanitizer build).
 *
 * The table is read lock-free from signal context: only the control thread writes it, each
 * entry under its own sequence count (odd while it changes), and the handler takes an entry's
 * fields only from a read that saw the same even count before and after. An entry is withdrawn
 * before its mapping goes, and a mapping goes only after the rings that use it are stopped
 * (nothing in flight), so no thread can be faulting on it then.
 */
#ifndef IOPROXY_FAULT_H
#define IOPROXY_FAULT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "host/err.h"

/* Devices x (two memory tables while one replaces the other + the inflight region). */
#define IOP_FAULT_SLOTS (IOP_MAX_DEVICES * (2 * 8 + 1))

/* Installs the SIGBUS handler and makes the eventfd it rings, before any thread that touches
 * guest memory starts. The action it replaces is what a SIGBUS outside guest memory gets;
 * calling it again puts ours back over a later one (a test framework's) and keeps that. */
int iop_fault_install(struct host_err *err);
/* The eventfd a handled fault makes readable (-1 before iop_fault_install). */
int iop_fault_fd(void);
/* Enters [p, p + len) (page-aligned) with the flag a fault in it raises (may be NULL).
 * Returns the entry's slot, or -ENOSPC. Control thread. */
int iop_fault_watch(void *p, size_t len, atomic_bool *flag);
/* Withdraws a slot from iop_fault_watch (ignores -1), before its mapping is unmapped. */
void iop_fault_unwatch(int slot);
/* The slot whose mapping holds p, or -1 (what the handler looks up). */
int iop_fault_find(const void *p);
/* Faults survived so far. */
uint64_t iop_fault_count(void);

#endif
