/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 for the management API, without sockets: an incremental request parser over the
 * bytes a connection has received, and the reply writer. Only what the dialect's clients send:
 * Content-Length bodies (no chunked bodies), Expect: 100-continue, keep-alive, pipelining.
 */
#ifndef VMMON_API_HTTP_H
#define VMMON_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define VMM_HTTP_METHOD_MAX   16
#define VMM_HTTP_ENDPOINT_MAX 128

enum vmm_http_result {
	VMM_HTTP_MORE,	/* incomplete: call again once more bytes arrived */
	VMM_HTTP_HEAD,	/* the head is complete, the body is not (returned once: send 100
			 * Continue now if msg.expect_continue) */
	VMM_HTTP_READY, /* a whole request: head_len + body_len bytes */
	VMM_HTTP_ERROR, /* msg.status and msg.error: answer and close (framing is lost) */
};

struct vmm_http_msg {
	char method[VMM_HTTP_METHOD_MAX];
	/* The path after VMM_API_PREFIX, query removed; "" when the target is outside it or
	 * too long (a 404: the request is still framed, the connection lives on). */
	char endpoint[VMM_HTTP_ENDPOINT_MAX];
	size_t head_len; /* request line and headers with the blank line */
	size_t body_len; /* Content-Length (0 when absent) */
	bool keep_alive; /* HTTP/1.1 unless "Connection: close"; HTTP/1.0 with "keep-alive" */
	bool expect_continue;
	int status;	   /* VMM_HTTP_ERROR: 400, 411, 413, 417, 431, 505 */
	const char *error; /* VMM_HTTP_ERROR: why, one line (static) */
};

struct vmm_http_parser {
	struct vmm_http_msg msg;
	size_t scan;	  /* head bytes checked so far */
	size_t line;	  /* where the current line starts */
	bool have_line;	  /* the request line was read */
	bool http10;	  /* HTTP/1.0 */
	bool conn_close;  /* Connection: close */
	bool conn_keep;	  /* Connection: keep-alive */
	bool have_length; /* a Content-Length was seen */
	bool head_done;
	bool head_told; /* VMM_HTTP_HEAD was returned */
};

void vmm_http_parser_reset(struct vmm_http_parser *p);
/* `buf` holds the request's bytes from its first (len of them); each call gives the same bytes
 * again plus any that arrived since. Bytes past a READY request belong to the next one. */
enum vmm_http_result vmm_http_parse(struct vmm_http_parser *p, const char *buf, size_t len);

/* "Not Found" for 404; "Unknown" for a code not in the table. */
const char *vmm_http_reason(int status);
/* A whole reply, malloc'd (NULL when out of memory), its length in *len. 204 has no body and no
 * Content-Length; otherwise `body` (JSON, or NULL for none) with its Content-Type and length.
 * `close` adds "Connection: close". */
char *vmm_http_reply(int status, const char *body, bool close, size_t *len);

#endif
