/* SPDX-License-Identifier: MIT */
#include "window.h"

void iop_window_init(struct iop_window *win, uint64_t max_ns)
{
	*win = (struct iop_window){.max_ns = max_ns};
}

void iop_window_adapt(struct iop_window *win, uint64_t gap_ns)
{
	if (!win->max_ns)
		return;
	if (gap_ns <= win->ns) {
		win->hits++;
	} else if (gap_ns > win->max_ns) {
		win->ns /= 2;
		if (win->ns < IOP_WINDOW_MIN_NS)
			win->ns = 0;
		win->shrinks++;
	} else {
		win->ns = win->ns ? win->ns * 2 : IOP_WINDOW_START_NS;
		if (win->ns > win->max_ns)
			win->ns = win->max_ns;
		win->grows++;
	}
}
