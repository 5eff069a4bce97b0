/* SPDX-License-Identifier: MIT */
#include "security.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <pwd.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
		{.effective = (uint32_t)keep, .permitted = (uint32_t)keep},
		{.effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32)}};
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

int iop_security_drop(const char *user, bool net_admin, struct host_err *err)
{
	uint64_t keep = 1ull << CAP_IPC_LOCK | (net_admin ? 1ull << CAP_NET_ADMIN : 0);
	struct passwd *pw = NULL;
	if (user) {
		pw = getpwnam(user);
		if (!pw)
			return host_err_set(err, ENOENT, "--user %s: no such user", user);
		if (geteuid() != 0 && geteuid() != pw->pw_uid)
			return host_err_set(err, EPERM, "--user %s: only root can switch users",
					    user);
	}
	if (geteuid() != 0)
		return 0; /* an ordinary user has no capabilities to give up */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!(keep & (1ull << cap)))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (pw && pw->pw_uid != 0) {
		gid_t gid = pw->pw_gid;
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &gid) < 0 ||
		    setresgid(gid, gid, gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			return host_err_set(err, errno, "--user %s: cannot switch: %s", user,
					    strerror(errno));
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		if (setuid(0) == 0)
			return host_err_set(err, EPERM, "--user %s: root could be regained", user);
	}
	int ret = set_caps(keep);
	if (ret)
		return host_err_set(err, -ret, "capset: %s", strerror(-ret));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

/* What the control thread (sockets, memory tables, inflight memfds, fds it closes, its
 * messages on stderr), the queue threads (io_uring, eventfd writes, malloc) and the SIGBUS
 * handler (fault.c: mmap over guest memory, an eventfd write; rt_sigaction and tgkill to die
 * of a SIGBUS that is not guest memory's) do. */
static const int allowed[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pwritev), /* --poll: buffered writes made on the queue thread (host/blk.h) */
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg),
	SCMP_SYS(accept4),
	SCMP_SYS(close),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(brk),
	SCMP_SYS(mremap),
	SCMP_SYS(futex),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(fcntl),
	SCMP_SYS(ftruncate),
	SCMP_SYS(memfd_create),
	SCMP_SYS(setsockopt),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigpending), /* a command held up while SIGTERM waits (worker_ctl.c) */
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(getrandom),
	SCMP_SYS(sched_yield),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(tgkill),
	SCMP_SYS(rseq),
};

int iop_security_seccomp(struct host_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return host_err_set(err, ENOMEM, "seccomp_init failed");
	int ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; !ret && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* The only ioctls left: a multi-queue tap's queues, and its header size. */
	const scmp_datum_t setqueue = TUNSETQUEUE, sethdr = TUNSETVNETHDRSZ;
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, setqueue));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, sethdr));
	if (!ret)
		ret = seccomp_load(ctx); /* sets no_new_privs itself */
	seccomp_release(ctx);
	if (ret)
		return host_err_set(err, -ret, "cannot install the seccomp filter: %s",
				    strerror(-ret));
	return 0;
}
