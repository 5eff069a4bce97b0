/* SPDX-License-Identifier: MIT */
/* ioproxy's guest-memory fault table and SIGBUS handler (proxy/fault.c): lookups at the edges
 * of a watched range, a full table, a file shrunk under a watched mapping (the access completes
 * on zero pages, the whole mapping is replaced, the flag, the count and the eventfd say so; also
 * on a thread that blocks every other signal, as queue threads do), and a SIGBUS that is not
 * guest memory's, which must still kill the process. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

#define PAGE 4096

static void watch_find_unwatch(void **state)
{
	(void)state;
	uint8_t *p = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	atomic_bool flag = false;
	int s = iop_fault_watch(p + PAGE, PAGE, &flag);
	assert_true(s >= 0);
	assert_int_equal(iop_fault_find(p + PAGE), s);
	assert_int_equal(iop_fault_find(p + 2 * PAGE - 1), s);
	assert_int_equal(iop_fault_find(p + PAGE - 1), -1);
	assert_int_equal(iop_fault_find(p + 2 * PAGE), -1);
	/* A second range beside it is told apart. */
	int t = iop_fault_watch(p + 2 * PAGE, PAGE, NULL);
	assert_true(t >= 0 && t != s);
	assert_int_equal(iop_fault_find(p + 2 * PAGE), t);
	assert_int_equal(iop_fault_find(p + 2 * PAGE - 1), s);
	iop_fault_unwatch(s);
	assert_int_equal(iop_fault_find(p + PAGE), -1);
	assert_int_equal(iop_fault_find(p + 2 * PAGE), t);
	iop_fault_unwatch(t);
	iop_fault_unwatch(-1); /* "none" is ignored */
	assert_int_equal(iop_fault_watch(p, 0, NULL), -EINVAL);
	munmap(p, 3 * PAGE);
	assert_false(flag);
}

static void table_full(void **state)
{
	(void)state;
	int slot[IOP_FAULT_SLOTS];
	/* Addresses are only compared, never touched: nothing needs to be mapped. */
	for (int i = 0; i < IOP_FAULT_SLOTS; i++) {
		slot[i] =
			iop_fault_watch((void *)(uintptr_t)(0x100000000ull + i * PAGE), PAGE, NULL);
		assert_int_equal(slot[i], i);
	}
	assert_int_equal(iop_fault_watch((void *)0x900000000ull, PAGE, NULL), -ENOSPC);
	iop_fault_unwatch(slot[7]);
	assert_int_equal(iop_fault_watch((void *)0x900000000ull, PAGE, NULL), 7);
	assert_int_equal(iop_fault_find((void *)0x900000010ull), 7);
	for (int i = 0; i < IOP_FAULT_SLOTS; i++)
		iop_fault_unwatch(slot[i]);
	assert_int_equal(iop_fault_find((void *)0x900000010ull), -1);
}

/* Two pages of a memfd, both filled with 0xab, mapped shared. */
static uint8_t *two_pages(int *fd)
{
	*fd = memfd_create("test-guest", MFD_CLOEXEC);
	assert_true(*fd >= 0);
	assert_int_equal(ftruncate(*fd, 2 * PAGE), 0);
	uint8_t *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	memset(p, 0xab, 2 * PAGE);
	return p;
}

struct reader {
	volatile uint8_t *at;
	uint8_t got;
};

/* A queue thread's view: every signal blocked but SIGBUS (proxy/worker.c). */
static void *read_blocked(void *arg)
{
	struct reader *r = arg;
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	r->got = *r->at;
	return NULL;
}

static void shrunk_file_absorbed(void **state)
{
	(void)state;
	struct host_err err = {{0}};
	assert_int_equal(iop_fault_install(&err), 0); /* ours again, over cmocka's */
	int fd;
	uint8_t *p = two_pages(&fd);
	atomic_bool flag = false;
	int s = iop_fault_watch(p, 2 * PAGE, &flag);
	assert_true(s >= 0);
	uint64_t before = iop_fault_count();
	assert_int_equal(ftruncate(fd, PAGE), 0); /* the second page is gone */
	struct reader r = {.at = p + PAGE, .got = 0x55};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, read_blocked, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.got, 0); /* the access completed, on a zero page */
	assert_true(flag);
	assert_int_equal(iop_fault_count(), before + 1);
	uint64_t bell = 0;
	assert_int_equal(read(iop_fault_fd(), &bell, sizeof(bell)), sizeof(bell));
	assert_int_equal(bell, 1);
	/* The whole mapping was replaced by private zero pages: the first page no longer shows
	 * the file, and writing there leaves the file alone. */
	assert_int_equal(p[0], 0);
	p[0] = 0x11;
	uint8_t file = 0;
	assert_int_equal(pread(fd, &file, 1, 0), 1);
	assert_int_equal(file, 0xab);
	iop_fault_unwatch(s);
	munmap(p, 2 * PAGE);
	close(fd);
}

/* In a child: a SIGBUS the table does not explain, made as `how` says. Returns its status. */
static int child_status(int how)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none); /* the default action dumps core: not here */
		alarm(10); /* a handler that returns to a fault refaults for ever */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2); /* nor a sanitizer's report of an expected death */
		int fd;
		uint8_t *p = two_pages(&fd);
		if (how == 0) { /* a fault on a mapping nobody watches */
			if (ftruncate(fd, 0) == 0)
				(void)*(volatile uint8_t *)p;
		} else if (how == 1) { /* one that was watched once: withdrawn first */
			iop_fault_unwatch(iop_fault_watch(p, 2 * PAGE, NULL));
			if (ftruncate(fd, 0) == 0)
				(void)*(volatile uint8_t *)(p + PAGE);
		} else { /* sent, not a fault */
			kill(getpid(), SIGBUS);
		}
		_exit(0); /* survived: the test fails */
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void stray_sigbus_kills(void **state)
{
	(void)state;
	struct host_err err = {{0}};
	assert_int_equal(iop_fault_install(&err), 0); /* ours again, over cmocka's */
	for (int how = 0; how < 3; how++) {
		int st = child_status(how);
#ifdef UNDER_ASAN
		/* The sanitizer's own handler, which ours hands over to, reports and exits. */
		assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGBUS);
#endif
	}
}

int main(void)
{
	/* Before cmocka puts its handlers in: SIGBUS's action before ours is the default one, as
	 * in ioproxy (or a sanitizer's). */
	struct host_err err = {{0}};
	if (iop_fault_install(&err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(watch_find_unwatch),
		cmocka_unit_test(table_full),
		cmocka_unit_test(shrunk_file_absorbed),
		cmocka_unit_test(stray_sigbus_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
