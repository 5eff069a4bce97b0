/* SPDX-License-Identifier: MIT */
/* Stands in for the API server (server.c) while it is not in the tree: --api-socket is refused.
 * meson.build leaves this file out once server.c exists. */
#include <errno.h>

#include "api.h"

int vmm_api_server_start(struct vmm_api_server **out, const struct vmm_api_socket_opts *o,
			 vmm_api_handler fn, void *ctx, struct host_err *err)
{
	(void)o;
	(void)fn;
	(void)ctx;
	*out = NULL;
	return host_err_set(err, ENOSYS, "--api-socket: this vmmon was built without the server");
}

void vmm_api_server_stop(struct vmm_api_server *s)
{
	(void)s;
}
