/* SPDX-License-Identifier: MIT */
/* Small helpers every host program needs: container_of, a monotonic clock, eventfd signals. */
#ifndef HOST_UTIL_H
#define HOST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* The struct that holds member m at address p. */
#define container_of(p, type, m) ((type *)((char *)(p)-offsetof(type, m)))

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Adds 1 to an eventfd (a kick, a call, a doorbell). */
static inline void host_signal(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated and a wakeup is pending anyway */
	}
}

#endif
