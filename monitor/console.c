/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The terminal state to put back. Process-wide by nature (there is one controlling terminal),
 * and read by the atexit and fatal-signal paths, which have no other way to reach it. */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

static void restore_terminal(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_saved = 0;
	}
}

/* A crash must not leave the user's shell in raw mode: restore, then die as we would have. */
static void fatal_signal(int sig)
{
	restore_terminal(); /* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

static int make_raw(struct host_err *err)
{
	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return host_err_set(err, errno, "cannot read the terminal settings of stdin: %s",
				    strerror(errno));
	struct termios raw = saved_tio;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep host-side newlines sane if anything prints */
	tio_saved = 1;
	atexit(restore_terminal);
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return host_err_set(err, errno, "cannot put the terminal in raw mode: %s",
				    strerror(errno));
	return 0;
}

int vmm_console_open_output(struct vmm_console *con, enum vmm_serial_mode mode, const char *path,
			    const char *opt, struct host_err *err)
{
	*con = (struct vmm_console){.out_fd = -1, .in_fd = -1, .room_fd = -1};
	switch (mode) {
	case VMM_SERIAL_OFF:
		return 0;
	case VMM_SERIAL_FILE:
		con->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (con->out_fd < 0)
			return host_err_set(err, errno, "%s file=%s: cannot open: %s", opt, path,
					    strerror(errno));
		con->close_out = true;
		return 0;
	case VMM_SERIAL_STDIO:
		con->out_fd = STDOUT_FILENO;
		return 0;
	}
	return 0;
}

int vmm_console_open(struct vmm_console *con, enum vmm_serial_mode mode, const char *path,
		     struct host_err *err)
{
	int ret = vmm_console_open_output(con, mode, path, "--serial", err);
	if (ret)
		return ret;
	con->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (con->room_fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	if (mode != VMM_SERIAL_STDIO)
		return 0;
	con->in_fd = STDIN_FILENO;
	return isatty(STDIN_FILENO) ? make_raw(err) : 0;
}

void vmm_console_close(struct vmm_console *con)
{
	restore_terminal();
	if (con->close_out && con->out_fd >= 0)
		close(con->out_fd);
	if (con->room_fd >= 0)
		close(con->room_fd);
	con->out_fd = con->in_fd = con->room_fd = -1;
}

void vmm_console_tx(void *ctx, uint8_t byte)
{
	struct vmm_console *con = ctx;
	if (con->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(con->out_fd, &byte, 1);
		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		con->dropped++; /* a closed pipe or full disk must not stop the guest */
		return;
	}
}

void vmm_console_rx_room(void *ctx)
{
	struct vmm_console *con = ctx;
	uint64_t one = 1;
	if (write(con->room_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: a wakeup is already pending. */
	}
}
