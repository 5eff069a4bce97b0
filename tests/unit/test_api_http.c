/* SPDX-License-Identifier: MIT */
/* The API's HTTP/1.1 request parser and reply writer, fed by hand: whole requests, a byte at a
 * time, pipelined, and each malformed case refused with its status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/http.h"

static enum vmm_http_result parse(struct vmm_http_parser *p, const char *s)
{
	vmm_http_parser_reset(p);
	return vmm_http_parse(p, s, strlen(s));
}

static void get_request(void **state)
{
	(void)state;
	struct vmm_http_parser p;
	const char *r = "GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	assert_int_equal(parse(&p, r), VMM_HTTP_READY);
	assert_string_equal(p.msg.method, "GET");
	assert_string_equal(p.msg.endpoint, "vm.info");
	assert_int_equal(p.msg.head_len, strlen(r));
	assert_int_equal(p.msg.body_len, 0);
	assert_true(p.msg.keep_alive);
	assert_false(p.msg.expect_continue);
	/* The query goes; the absolute form names the same path; leading CRLFs are skipped. */
	assert_int_equal(parse(&p, "\r\nGET /api/v1/vmm.ping?x=1 HTTP/1.1\r\n\r\n"),
			 VMM_HTTP_READY);
	assert_string_equal(p.msg.endpoint, "vmm.ping");
	assert_int_equal(parse(&p, "GET http://localhost/api/v1/vm.counters HTTP/1.1\r\n\r\n"),
			 VMM_HTTP_READY);
	assert_string_equal(p.msg.endpoint, "vm.counters");
	/* Outside /api/v1/: framed as usual, with no endpoint (a 404). */
	const char *outside[] = {"GET / HTTP/1.1\r\n\r\n", "GET /api/v2/vm.info HTTP/1.1\r\n\r\n",
				 "GET /api/v1/ HTTP/1.1\r\n\r\n", "GET /api/v1 HTTP/1.1\r\n\r\n"};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		assert_int_equal(parse(&p, outside[i]), VMM_HTTP_READY);
		assert_string_equal(p.msg.endpoint, "");
	}
}

static void body_and_keep_alive(void **state)
{
	(void)state;
	struct vmm_http_parser p;
	const char *r = "PUT /api/v1/vm.create HTTP/1.1\r\ncontent-LENGTH:  7 \r\n\r\n{\"a\":1}";
	assert_int_equal(parse(&p, r), VMM_HTTP_READY);
	assert_string_equal(p.msg.method, "PUT");
	assert_int_equal(p.msg.body_len, 7);
	assert_memory_equal(r + p.msg.head_len, "{\"a\":1}", 7);
	/* The same length twice is one length. */
	assert_int_equal(parse(&p, "PUT /api/v1/x HTTP/1.1\r\nContent-Length: 2\r\n"
				   "Content-Length: 2\r\n\r\nab"),
			 VMM_HTTP_READY);
	assert_int_equal(p.msg.body_len, 2);
	/* Missing on a PUT: no body. */
	assert_int_equal(parse(&p, "PUT /api/v1/vm.boot HTTP/1.1\r\n\r\n"), VMM_HTTP_READY);
	assert_int_equal(p.msg.body_len, 0);
	assert_int_equal(parse(&p, "GET /api/v1/x HTTP/1.1\r\nConnection: Close\r\n\r\n"),
			 VMM_HTTP_READY);
	assert_false(p.msg.keep_alive);
	assert_int_equal(parse(&p, "GET /api/v1/x HTTP/1.1\r\nConnection: te, close\r\n\r\n"),
			 VMM_HTTP_READY);
	assert_false(p.msg.keep_alive);
	assert_int_equal(parse(&p, "GET /api/v1/x HTTP/1.0\r\n\r\n"), VMM_HTTP_READY);
	assert_false(p.msg.keep_alive);
	assert_int_equal(parse(&p, "GET /api/v1/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
			 VMM_HTTP_READY);
	assert_true(p.msg.keep_alive);
}

/* A byte at a time: MORE until the head is whole, HEAD once, then READY with the last byte. */
static void byte_at_a_time(void **state)
{
	(void)state;
	struct vmm_http_parser p;
	const char *r = "PUT /api/v1/vm.add-net HTTP/1.1\r\nExpect: 100-continue\r\n"
			"Content-Length: 5\r\n\r\nhello";
	size_t head = strlen(r) - 5, heads = 0;
	vmm_http_parser_reset(&p);
	for (size_t n = 1; n <= strlen(r); n++) {
		enum vmm_http_result res = vmm_http_parse(&p, r, n);
		if (n < head)
			assert_int_equal(res, VMM_HTTP_MORE);
		else if (n == head)
			assert_int_equal(res, VMM_HTTP_HEAD);
		else if (n < strlen(r))
			assert_int_equal(res, VMM_HTTP_MORE);
		else
			assert_int_equal(res, VMM_HTTP_READY);
		heads += res == VMM_HTTP_HEAD;
	}
	assert_int_equal(heads, 1);
	assert_true(p.msg.expect_continue);
	assert_int_equal(p.msg.head_len, head);
	/* An HTTP/1.0 client does not wait for 100 Continue. */
	assert_int_equal(parse(&p, "PUT /api/v1/x HTTP/1.0\r\nExpect: 100-continue\r\n"
				   "Content-Length: 5\r\n\r\n"),
			 VMM_HTTP_HEAD);
	assert_false(p.msg.expect_continue);
}

/* Two requests in one buffer: the first READY, the second parsed from where it ends. */
static void pipelined(void **state)
{
	(void)state;
	struct vmm_http_parser p;
	const char *r = "PUT /api/v1/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
			"GET /api/v1/b HTTP/1.1\r\n\r\nGET /api/v1/c HT";
	size_t len = strlen(r), off = 0;
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r, len), VMM_HTTP_READY);
	assert_string_equal(p.msg.endpoint, "a");
	off += p.msg.head_len + p.msg.body_len;
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r + off, len - off), VMM_HTTP_READY);
	assert_string_equal(p.msg.endpoint, "b");
	assert_string_equal(p.msg.method, "GET");
	off += p.msg.head_len + p.msg.body_len;
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r + off, len - off), VMM_HTTP_MORE);
}

static void expect_error(const char *r, size_t len, int status, const char *words)
{
	struct vmm_http_parser p;
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r, len), VMM_HTTP_ERROR);
	assert_int_equal(p.msg.status, status);
	assert_non_null(strstr(p.msg.error, words));
	/* Sticky: more bytes do not revive it. */
	assert_int_equal(vmm_http_parse(&p, r, len), VMM_HTTP_ERROR);
}

#define ERR(r, status, words) expect_error(r, strlen(r), status, words)

static void malformed(void **state)
{
	(void)state;
	ERR("GET /api/v1/vmm.ping HTTP/1.1\n\n", 400, "CRLF");
	ERR("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\n\r\n", 400, "CRLF");
	ERR("GET /api/v1/vmm.ping HTTP/1.1\rHost: x\r\n\r\n", 400, "lone CR");
	ERR("GET /api/v1/vmm.ping HTTP/1.1\r\r\n", 400, "lone CR");
	ERR("GET\r\n\r\n", 400, "request line");
	ERR("GET /x\r\n", 400, "request line");
	ERR("GET  /x HTTP/1.1\r\n", 400, "target");
	ERR("G(T /x HTTP/1.1\r\n", 400, "method");
	ERR("GET x HTTP/1.1\r\n", 400, "target");
	ERR("GET /x HTTP/2.0\r\n", 505, "version");
	ERR("GET /x FTP/1.1\r\n", 400, "request line");
	ERR("GET /x HTTP/1.1\r\nNoColon\r\n", 400, "Name: value");
	ERR("GET /x HTTP/1.1\r\nBad Name: v\r\n", 400, "Name: value");
	ERR("GET /x HTTP/1.1\r\nA: b\r\n c\r\n", 400, "folded");
	ERR("GET /x HTTP/1.1\r\nA: b\x01\r\n", 400, "control");
	expect_error("GET /x HTTP/1.1\r\nA: \0\r\n", 23, 400, "NUL");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: -1\r\n", 400, "Content-Length");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 12abc\r\n", 400, "Content-Length");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: \r\n", 400, "Content-Length");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 1, 1\r\n", 400, "Content-Length");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n", 400, "conflicting");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 1048577\r\n", 413, "too large");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 99999999999999999999999999999\r\n", 413,
	    "too large");
	ERR("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 411, "chunked");
	ERR("PUT /x HTTP/1.1\r\nContent-Length: 3\r\ntransfer-encoding: gzip\r\n", 411, "chunked");
	ERR("PUT /x HTTP/1.1\r\nExpect: something\r\n", 417, "100-continue");
	/* The largest body is fine. */
	struct vmm_http_parser p;
	assert_int_equal(parse(&p, "PUT /x HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n"),
			 VMM_HTTP_HEAD);
}

/* A head without its end: MORE up to the limit, 431 at it (a 1 MiB header included). */
static void header_too_large(void **state)
{
	(void)state;
	size_t big = 1u << 20;
	char *r = malloc(big);
	assert_non_null(r);
	const char *start = "GET /api/v1/vmm.ping HTTP/1.1\r\nX-Big: ";
	memcpy(r, start, strlen(start));
	memset(r + strlen(start), 'a', big - strlen(start));
	struct vmm_http_parser p;
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r, VMM_API_MAX_HEADER - 1), VMM_HTTP_MORE);
	assert_int_equal(vmm_http_parse(&p, r, VMM_API_MAX_HEADER), VMM_HTTP_ERROR);
	assert_int_equal(p.msg.status, 431);
	expect_error(r, big, 431, "too large");
	/* Many small headers add up the same way, even when their end came in the same read. */
	size_t off = (size_t)sprintf(r, "GET /x HTTP/1.1\r\n");
	while (off < 20000)
		off += (size_t)sprintf(r + off, "X-H: v\r\n");
	expect_error(r, off, 431, "too large");
	off += (size_t)sprintf(r + off, "\r\n");
	expect_error(r, off, 431, "too large");
	/* A head of exactly the limit is accepted. */
	off = (size_t)sprintf(r, "GET /x HTTP/1.1\r\nX: ");
	memset(r + off, 'b', VMM_API_MAX_HEADER - off - 4);
	memcpy(r + VMM_API_MAX_HEADER - 4, "\r\n\r\n", 4);
	vmm_http_parser_reset(&p);
	assert_int_equal(vmm_http_parse(&p, r, VMM_API_MAX_HEADER), VMM_HTTP_READY);
	free(r);
}

static void replies(void **state)
{
	(void)state;
	size_t len;
	char *r = vmm_http_reply(200, "{\"a\":1}", false, &len);
	assert_string_equal(r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			       "Content-Length: 7\r\n\r\n{\"a\":1}");
	assert_int_equal(len, strlen(r));
	free(r);
	r = vmm_http_reply(204, "ignored", false, &len);
	assert_string_equal(r, "HTTP/1.1 204 No Content\r\n\r\n");
	free(r);
	r = vmm_http_reply(204, NULL, true, &len);
	assert_string_equal(r, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
	free(r);
	r = vmm_http_reply(404, "[\"x\"]", true, &len);
	assert_string_equal(r, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			       "Content-Length: 5\r\nConnection: close\r\n\r\n[\"x\"]");
	free(r);
	r = vmm_http_reply(200, NULL, false, &len);
	assert_string_equal(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	free(r);
	assert_string_equal(vmm_http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(vmm_http_reason(408), "Request Timeout");
	assert_string_equal(vmm_http_reason(411), "Length Required");
	assert_string_equal(vmm_http_reason(999), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_request),	  cmocka_unit_test(body_and_keep_alive),
		cmocka_unit_test(byte_at_a_time), cmocka_unit_test(pipelined),
		cmocka_unit_test(malformed),	  cmocka_unit_test(header_too_large),
		cmocka_unit_test(replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
