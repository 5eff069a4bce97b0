/* SPDX-License-Identifier: MIT */
/*
 * The host side of the serial console: where guest output goes (stdout, a file, nowhere), and
 * stdin as guest input with the terminal in raw mode, restored on every way out of vmmon.
 */
#ifndef VMMON_CONSOLE_H
#define VMMON_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

#include "host/err.h"

enum vmm_serial_mode { VMM_SERIAL_STDIO, VMM_SERIAL_FILE, VMM_SERIAL_OFF };

struct vmm_console {
	int out_fd;	  /* -1: output discarded */
	bool close_out;	  /* out_fd is a file we opened */
	int in_fd;	  /* -1: no input */
	int room_fd;	  /* eventfd: the UART drained its FIFO and takes more input */
	uint64_t dropped; /* output bytes that could not be written */
};

int vmm_console_open(struct vmm_console *con, enum vmm_serial_mode mode, const char *path,
		     struct host_err *err);
/* An output-only console (the debug port): stdout, a file, or nowhere; opt names the option in
 * messages. vmm_console_tx writes to it, vmm_console_close closes it. */
int vmm_console_open_output(struct vmm_console *con, enum vmm_serial_mode mode, const char *path,
			    const char *opt, struct host_err *err);
void vmm_console_close(struct vmm_console *con);
/* UART callbacks (ctx is the console). */
void vmm_console_tx(void *ctx, uint8_t byte);
void vmm_console_rx_room(void *ctx);

#endif
