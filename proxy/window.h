/* SPDX-License-Identifier: MIT */
/*
 * Event mode's poll window: after a queue thread took chains and has no I/O of its own in the
 * kernel, it keeps looking at its rings' available indexes for a while before it sleeps on the
 * kick (worker.c). A request that arrives meanwhile is seen within a microsecond, while the
 * guest's vCPU is still in its kick's exit, instead of after an idle CPU's wake-up (15-20 us on
 * this project's nested machines), and a driver that sleeps on interrupts then finds its
 * completion before it sleeps.
 *
 * The window adapts, after QEMU's aio poll (poll-max-ns; the code is our own): the gap is the
 * time from the thread going idle to the next chain. A gap the window covered leaves it; a gap
 * above the bound halves it (an idle or slow guest pays at most the bound once, then less); a
 * gap within the bound but past the window doubles it (from WINDOW_START_NS), so that a guest
 * whose requests come at a steady pace is caught after a few requests. Pure: no clock, no
 * thread (tests/unit/test_iop_window.c).
 */
#ifndef IOPROXY_WINDOW_H
#define IOPROXY_WINDOW_H

#include <stdint.h>

#define IOP_WINDOW_START_NS 4000
/* Halving below this ends the window: a few microseconds' spin finds nothing a wake-up would
 * not. */
#define IOP_WINDOW_MIN_NS 2000

struct iop_window {
	uint64_t max_ns; /* the bound (--poll-window); 0: never polls */
	uint64_t ns;	 /* the current window, 0..max_ns */
	uint64_t hits, grows, shrinks;
};

void iop_window_init(struct iop_window *win, uint64_t max_ns);
/* The next chain came gap_ns after the thread went idle. */
void iop_window_adapt(struct iop_window *win, uint64_t gap_ns);

#endif
