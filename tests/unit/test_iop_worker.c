/* SPDX-License-Identifier: MIT */
/*
 * ioproxy's worker commands (proxy/worker_ctl.c) when the worker never finishes one: the
 * control thread's wait is bounded only once the process is ending. Each case runs in a child
 * process with SIGTERM and SIGINT blocked as ioproxy blocks them (taken through a signalfd
 * only), a real queue thread, and a command that never ends (a call stuck on a pipe nobody
 * writes, as a queue stop whose reads never come back holds the worker's command). Checked:
 * with SIGTERM sent (pending, never read) the process ends by SIGTERM within the bound plus
 * slack and says why, also under ioproxy's seccomp filter; the same after iop_worker_set_exiting
 * (the control thread read the signal, then waited for a stop); and a slow command while not ending
 * is reported once and waited for to its end, never abandoned.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/util.h"
#include "security.h"
#include "worker.h"

#define BOUND_S 5 /* worker_ctl.c's EXIT_BOUND_NS and SLOW_NS */
#define SLACK_S 3

static int never[2]; /* a pipe nobody writes */

static void stuck(struct iop_worker *w, void *arg)
{
	(void)w;
	(void)arg;
	char b;
	while (read(never[0], &b, 1) < 0 && errno == EINTR)
		;
}

static void slow(struct iop_worker *w, void *arg)
{
	(void)w;
	(void)arg;
	struct timespec t = {.tv_sec = BOUND_S, .tv_nsec = 500000000};
	nanosleep(&t, NULL);
}

enum how { SIGNALLED, SIGNALLED_SECCOMP, SET_EXITING, NOT_ENDING };

/* The child: ioproxy's signal mask, one worker, one command that does not end. */
static void child(enum how how, int err_fd)
{
	dup2(err_fd, 2);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	static struct iop_worker w = {.bell_fd = -1};
	struct iop_worker_cfg wc = {.max_queues = 1};
	struct host_err err = {{0}};
	if (pipe(never) || iop_worker_start(&w, 0, &wc, &err)) {
		fprintf(stderr, "child: cannot start a worker: %s\n", err.msg);
		_exit(2);
	}
	/* As ioproxy --seccomp: the filter after the workers, for every thread. */
	if (how == SIGNALLED_SECCOMP && iop_security_seccomp(&err)) {
		fprintf(stderr, "child: seccomp: %s\n", err.msg);
		_exit(2);
	}
	if (how == SET_EXITING)
		iop_worker_set_exiting();
	iop_worker_run(&w, how == NOT_ENDING ? slow : stuck, NULL);
	fprintf(stderr, "child: the command returned\n");
	_exit(how == NOT_ENDING ? 0 : 3);
}

/* Runs the child; returns its wait status (failing if it outlives `limit_s`) and its stderr. */
static int run_child(enum how how, unsigned limit_s, char *out, size_t len)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child(how, p[1]);
	}
	close(p[1]);
	if (how == SIGNALLED || how == SIGNALLED_SECCOMP) {
		struct timespec t = {.tv_nsec = 300000000}; /* the command posted and waiting */
		nanosleep(&t, NULL);
		kill(pid, SIGTERM);
	}
	uint64_t until = host_now_ns() + (uint64_t)limit_s * 1000000000;
	int status = 0;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (host_now_ns() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(p[0]);
			fail_msg("the child still ran after %u s", limit_s);
		}
		struct timespec t = {.tv_nsec = 20000000};
		nanosleep(&t, NULL);
	}
	ssize_t n = read(p[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return status;
}

static void assert_ended_by_sigterm(enum how how)
{
	char out[1024];
	uint64_t t0 = host_now_ns();
	int status = run_child(how, BOUND_S + SLACK_S, out, sizeof(out));
	uint64_t took = host_now_ns() - t0;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		fail_msg("status %#x, expected death by SIGTERM; stderr: %s", status, out);
	assert_true(took >= (uint64_t)BOUND_S * 1000000000 - 500000000); /* not before the bound */
	if (!strstr(out, "ioproxy: worker 0: ending, and a call has waited 5 s for it: exiting "
			 "without it (its I/O left to the kernel)"))
		fail_msg("stderr: %s", out);
}

static void test_signalled_exit_is_bounded(void **state)
{
	(void)state;
	assert_ended_by_sigterm(SIGNALLED);
}

/* Under ioproxy's seccomp filter: what the bounded wait calls is allowed (a syscall that is not
 * ends the process by SIGSYS). */
static void test_signalled_exit_is_bounded_seccomp(void **state)
{
	(void)state;
	assert_ended_by_sigterm(SIGNALLED_SECCOMP);
}

static void test_exit_after_set_exiting_is_bounded(void **state)
{
	(void)state;
	assert_ended_by_sigterm(SET_EXITING);
}

static void test_slow_command_waited_for(void **state)
{
	(void)state;
	char out[1024];
	int status = run_child(NOT_ENDING, BOUND_S + SLACK_S, out, sizeof(out));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("status %#x; stderr: %s", status, out);
	assert_non_null(strstr(out, "ioproxy: worker 0: a call has waited 5 s so far\n"));
	assert_non_null(strstr(out, "child: the command returned"));
	assert_null(strstr(out, "exiting without it"));
}

int main(void)
{
	/* io_uring refused by the host (EPERM) or absent from the kernel (ENOSYS): skip. */
	struct io_uring probe;
	int ret = io_uring_queue_init(4, &probe, 0);
	if (ret == -EPERM || ret == -ENOSYS) {
		printf("SKIP: io_uring is not available here (%s)\n", strerror(-ret));
		return 77;
	}
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	io_uring_queue_exit(&probe);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signalled_exit_is_bounded),
		cmocka_unit_test(test_signalled_exit_is_bounded_seccomp),
		cmocka_unit_test(test_exit_after_set_exiting_is_bounded),
		cmocka_unit_test(test_slow_command_waited_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
