/* SPDX-License-Identifier: MIT */
/* The SIGBUS handler and the table of guest mappings it consults (see fault.h). */
#include "fault.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/util.h"

_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2,
	       "the signal handler needs lock-free atomics");

struct watch {
	atomic_uint seq; /* odd while the control thread changes the entry */
	_Atomic uintptr_t start;
	_Atomic size_t len; /* 0: free */
	_Atomic(atomic_bool *) flag;
};

static struct watch table[IOP_FAULT_SLOTS];
static int bell = -1;
static atomic_ulong faults;
static struct sigaction prev; /* SIGBUS's action before ours: what a stray SIGBUS gets */
static bool installed;

/* Control thread: the entry changes between two increments of its count. The release fence
 * orders the odd count before the new fields, the final release store the fields before the
 * even count; both pair with the acquire loads and fence in read_entry. */
static void write_entry(struct watch *w, uintptr_t start, size_t len, atomic_bool *flag)
{
	unsigned s = atomic_load_explicit(&w->seq, memory_order_relaxed);
	atomic_store_explicit(&w->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&w->start, start, memory_order_relaxed);
	atomic_store_explicit(&w->len, len, memory_order_relaxed);
	atomic_store_explicit(&w->flag, flag, memory_order_relaxed);
	atomic_store_explicit(&w->seq, s + 2, memory_order_release);
}

/* Any thread, signal context included: a consistent copy of the entry, or false if it was
 * changing. An entry in change never holds the faulting address (fault.h), so it is skipped,
 * not waited for. */
static bool read_entry(struct watch *w, uintptr_t *start, size_t *len, atomic_bool **flag)
{
	unsigned s = atomic_load_explicit(&w->seq, memory_order_acquire);
	if (s & 1)
		return false;
	*start = atomic_load_explicit(&w->start, memory_order_relaxed);
	*len = atomic_load_explicit(&w->len, memory_order_relaxed);
	*flag = atomic_load_explicit(&w->flag, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&w->seq, memory_order_relaxed) == s;
}

int iop_fault_watch(void *p, size_t len, atomic_bool *flag)
{
	if (!len)
		return -EINVAL;
	for (int i = 0; i < IOP_FAULT_SLOTS; i++) {
		if (atomic_load_explicit(&table[i].len, memory_order_relaxed) == 0) {
			write_entry(&table[i], (uintptr_t)p, len, flag);
			return i;
		}
	}
	return -ENOSPC;
}

void iop_fault_unwatch(int slot)
{
	if (slot >= 0 && slot < IOP_FAULT_SLOTS)
		write_entry(&table[slot], 0, 0, NULL);
}

static int find(uintptr_t a, uintptr_t *start, size_t *len, atomic_bool **flag)
{
	for (int i = 0; i < IOP_FAULT_SLOTS; i++)
		if (read_entry(&table[i], start, len, flag) && *len && a >= *start &&
		    a - *start < *len)
			return i;
	return -1;
}

int iop_fault_find(const void *p)
{
	uintptr_t start;
	size_t len;
	atomic_bool *flag;
	return find((uintptr_t)p, &start, &len, &flag);
}

uint64_t iop_fault_count(void)
{
	return atomic_load(&faults);
}

int iop_fault_fd(void)
{
	return bell;
}

/* Signal context: a fault inside a watched mapping is absorbed. Raw syscalls, so that no
 * library wrapper (a sanitizer's interceptor) runs here. */
static bool absorb(uintptr_t addr)
{
	uintptr_t start;
	size_t len;
	atomic_bool *flag;
	if (find(addr, &start, &len, &flag) < 0)
		return false;
	/* Zero pages over the whole mapping: one fault, not one per page, and the rest of the
	 * device's accesses land there until the control thread drops it. */
	long p = syscall(SYS_mmap, start, len, PROT_READ | PROT_WRITE,
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != (long)start)
		return false; /* still unmapped: dying is all that is left */
	if (flag)
		atomic_store(flag, true);
	atomic_fetch_add(&faults, 1);
	uint64_t one = 1;
	if (bell >= 0 && syscall(SYS_write, bell, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated and the control thread is woken anyway */
	}
	return true;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	/* si_code > 0: the kernel's, for an access to si_addr (kill(2) gives <= 0). */
	if (si->si_code > 0 && absorb((uintptr_t)si->si_addr)) {
		errno = saved;
		return;
	}
	if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction) {
		prev.sa_sigaction(sig, si, uc); /* e.g. a sanitizer's report */
		return;
	}
	if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler != SIG_DFL &&
	    prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	/* Not ours: the default action, a core dump. A fault repeats on return and now kills;
	 * a signal that was sent is sent again, and delivered once the handler returns. */
	signal(SIGBUS, SIG_DFL);
	if (si->si_code <= 0)
		raise(SIGBUS);
	errno = saved;
}

int iop_fault_install(struct host_err *err)
{
	struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigemptyset(&sa.sa_mask);
	if (installed) /* ours again, over whatever came since; the action before ours stays */
		return sigaction(SIGBUS, &sa, NULL) < 0
			       ? host_err_set(err, errno, "sigaction(SIGBUS): %s", strerror(errno))
			       : 0;
	bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bell < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	if (sigaction(SIGBUS, &sa, &prev) < 0) {
		int e = errno;
		close(bell);
		bell = -1;
		return host_err_set(err, e, "sigaction(SIGBUS): %s", strerror(e));
	}
	installed = true;
	return 0;
}
