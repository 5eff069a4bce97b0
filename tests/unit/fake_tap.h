/* SPDX-License-Identifier: MIT */
/* Real taps for tests of the code that checks and adopts tap descriptors: made in a network
 * namespace of the test's own (unshare), so nothing on the host sees them, and gone when their
 * last descriptor is closed (not persistent). */
#ifndef TESTS_FAKE_TAP_H
#define TESTS_FAKE_TAP_H

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Enters a fresh network namespace once. 0, or -errno (EPERM: not root; no /dev/net/tun:
 * ENOENT), when the host cannot give taps: the caller skips. */
static inline int tap_netns(void)
{
	static int done = 1;
	if (done <= 0)
		return done;
	done = access("/dev/net/tun", R_OK | W_OK) ? -errno : 0;
	if (!done && unshare(CLONE_NEWNET))
		done = -errno;
	return done;
}

/* A queue of tap (or tun) `name` with `flags` (IFF_TAP | IFF_NO_PI | ...): its descriptor, or
 * -errno. */
static inline int tap_make(const char *name, short flags)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr = {.ifr_flags = flags};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)

#endif
