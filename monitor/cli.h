/* SPDX-License-Identifier: MIT */
/* The command line, in Cloud Hypervisor's style: `vmmon --kernel IMAGE [--cpus N] ...`. */
#ifndef VMMON_CLI_H
#define VMMON_CLI_H

#include <stdint.h>

#include "config.h"
#include "host/err.h"

enum vmm_cli_result {
	VMM_CLI_RUN = 0,  /* cfg is ready */
	VMM_CLI_DONE = 1, /* --help or --version was printed */
};

/* Returns VMM_CLI_RUN, VMM_CLI_DONE, or -errno with a one-line message in err. */
int vmm_cli_parse(int argc, char **argv, struct vmm_config *cfg, struct host_err *err);
/* "512M", "2G", "size=1G", "4096": bytes. Returns 0 or -EINVAL. */
int vmm_parse_size(const char *s, uint64_t *out);

#endif
