/* SPDX-License-Identifier: MIT */
/*
 * vmmon: parse the command line, build the VM, run it, exit with its status. With --api-socket
 * the VM is the management API's (api/ctl.c): it runs on a thread of its own, booted at once
 * if the command line named a kernel or firmware, else when vm.create and vm.boot come; the
 * process ends on vmm.shutdown or a termination signal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/ctl.h"
#include "cli.h"
#include "vm.h"

static struct vmm_vm vm; /* large; one per process */

/* The command line's VM, run on this thread until it ends for good. */
static int run_cli(struct vmm_config *cfg)
{
	struct host_err err = {{0}};
	int status = VMM_EXIT_ERROR;
	vmm_event("vm", "booting", NULL);
	int ret = vmm_vm_create(&vm, cfg, &err);
	if (!ret)
		ret = vmm_vm_load(&vm, &err);
	if (!ret)
		vmm_event("vm", "booted", NULL);
	while (!ret) {
		status = vmm_vm_run(&vm);
		if (status != VMM_EXIT_RESET)
			break;
		/* A firmware's machine was reset: the same machine, built again. */
		status = VMM_EXIT_ERROR;
		vmm_event("vm", "rebooting", NULL);
		ret = vmm_vm_reset(&vm, &err);
		if (!ret)
			vmm_event("vm", "rebooted", NULL);
	}
	if (ret)
		fprintf(stderr, "vmmon: %s\n", err.msg);
	vmm_vm_destroy(&vm);
	vmm_event("vm", "shutdown", NULL);
	return status;
}

/* Waits for vmm.shutdown (quit_fd) or a termination signal: 0, or 128 + the signal. */
static int wait_end(int quit_fd, int sig_fd)
{
	for (;;) {
		struct pollfd fds[] = {{.fd = quit_fd, .events = POLLIN},
				       {.fd = sig_fd, .events = POLLIN}};
		if (poll(fds, 2, -1) < 0)
			continue;
		if (fds[0].revents & POLLIN)
			return VMM_EXIT_OK;
		struct signalfd_siginfo si;
		if ((fds[1].revents & POLLIN) && read(sig_fd, &si, sizeof(si)) == sizeof(si))
			return VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
	}
}

static int run_api(struct vmm_config *cfg)
{
	struct host_err err = {{0}};
	/* Every thread started from here inherits the mask: signals reach main's signalfd. */
	sigset_t set;
	vmm_term_sigset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	int quit_fd = eventfd(0, EFD_CLOEXEC);
	if (sig_fd < 0 || quit_fd < 0) {
		fprintf(stderr, "vmmon: signalfd/eventfd: %s\n", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	static struct vmm_ctl ctl;
	vmm_ctl_init(&ctl, &vm, quit_fd);
	struct vmm_api_socket_opts api = cfg->api;
	int status = VMM_EXIT_ERROR, ret = 0;
	if (cfg->kernel || cfg->firmware) {
		vmm_vmconfig_adopt(&ctl.vc, cfg);
		ctl.state = VMM_STATE_CREATED;
		ret = vmm_ctl_boot(&ctl, &err);
	}
	struct vmm_api_server *srv = NULL;
	if (!ret)
		ret = vmm_api_server_start(&srv, &api, vmm_routes_handle, &ctl, &err);
	if (!ret)
		status = wait_end(quit_fd, sig_fd);
	else
		fprintf(stderr, "vmmon: %s\n", err.msg);
	vmm_api_server_stop(srv);
	vmm_ctl_delete(&ctl);
	close(quit_fd);
	close(sig_fd);
	return status;
}

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	struct host_err err = {{0}};
	int ret = vmm_cli_parse(argc, argv, &cfg, &err);
	if (ret == VMM_CLI_DONE) {
		vmm_config_free(&cfg);
		return 0;
	}
	if (ret == 0 && cfg.events_given)
		ret = vmm_events_open(&cfg.events, &err);
	if (ret < 0) {
		fprintf(stderr, "vmmon: %s\n", err.msg);
		vmm_config_free(&cfg);
		return VMM_EXIT_ERROR;
	}
	/* A closed stdout must not kill the VM: write errors are counted instead. */
	signal(SIGPIPE, SIG_IGN);
	vmm_event("vmm", "starting", NULL);
	int status = cfg.api_given ? run_api(&cfg) : run_cli(&cfg);
	vmm_event("vmm", "shutdown", NULL);
	vmm_events_close();
	vmm_config_free(&cfg);
	return status;
}
