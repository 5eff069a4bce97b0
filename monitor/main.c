/* SPDX-License-Identifier: MIT */
/* vmmon: parse the command line, build the VM, run it, exit with its status. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "vm.h"

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	struct host_err err = {{0}};
	int ret = vmm_cli_parse(argc, argv, &cfg, &err);
	if (ret == VMM_CLI_DONE) {
		vmm_config_free(&cfg);
		return 0;
	}
	if (ret < 0) {
		fprintf(stderr, "vmmon: %s\n", err.msg);
		vmm_config_free(&cfg);
		return VMM_EXIT_ERROR;
	}
	/* A closed stdout must not kill the VM: write errors are counted instead. */
	signal(SIGPIPE, SIG_IGN);

	static struct vmm_vm vm; /* large; one per process */
	int status = VMM_EXIT_ERROR;
	ret = vmm_vm_create(&vm, &cfg, &err);
	if (!ret)
		ret = vmm_vm_load(&vm, &err);
	while (!ret) {
		status = vmm_vm_run(&vm);
		if (status != VMM_EXIT_RESET)
			break;
		/* A firmware's machine was reset: the same machine, built again. */
		status = VMM_EXIT_ERROR;
		ret = vmm_vm_reset(&vm, &err);
	}
	if (ret)
		fprintf(stderr, "vmmon: %s\n", err.msg);
	vmm_vm_destroy(&vm);
	vmm_config_free(&cfg);
	return status;
}
