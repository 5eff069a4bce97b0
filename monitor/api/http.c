/* SPDX-License-Identifier: MIT */
/*
 * The request parser checks each head line as soon as its CRLF arrives, so a client that sends
 * a byte at a time costs one pass over its bytes, and a bad line is refused before the rest
 * comes. Every line must end in CRLF: a bare LF or CR is refused rather than guessed at, since
 * two parsers that split lines differently are how requests get smuggled.
 */
#include "http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

void vmm_http_parser_reset(struct vmm_http_parser *p)
{
	*p = (struct vmm_http_parser){0};
}

static enum vmm_http_result fail(struct vmm_http_parser *p, int status, const char *why)
{
	p->msg.status = status;
	p->msg.error = why;
	return VMM_HTTP_ERROR;
}

/* RFC 9110's tchar: the characters of methods and header names. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(s[i]))
			return false;
	return n > 0;
}

/* The target's path under VMM_API_PREFIX, query and fragment cut off; "" when outside it. */
static void take_endpoint(struct vmm_http_msg *m, const char *t, size_t n)
{
	/* Absolute form (RFC 9112 3.2.2): "http://host/path" names the same path. */
	if (n > 7 && strncasecmp(t, "http://", 7) == 0) {
		const char *slash = memchr(t + 7, '/', n - 7);
		if (!slash)
			return;
		n -= (size_t)(slash - t);
		t = slash;
	}
	size_t plen = strlen(VMM_API_PREFIX);
	if (n < plen || memcmp(t, VMM_API_PREFIX, plen) != 0)
		return;
	t += plen;
	n -= plen;
	size_t e = 0;
	while (e < n && t[e] != '?' && t[e] != '#')
		e++;
	if (e == 0 || e >= sizeof(m->endpoint))
		return;
	memcpy(m->endpoint, t, e);
	m->endpoint[e] = '\0';
}

/* METHOD SP TARGET SP HTTP/1.x, each separated by exactly one space. */
static enum vmm_http_result request_line(struct vmm_http_parser *p, const char *s, size_t n)
{
	const char *sp1 = memchr(s, ' ', n);
	if (!sp1)
		return fail(p, 400, "malformed request line: expected METHOD TARGET HTTP/1.1");
	const char *t = sp1 + 1;
	const char *sp2 = memchr(t, ' ', n - (size_t)(t - s));
	if (!sp2)
		return fail(p, 400, "malformed request line: expected METHOD TARGET HTTP/1.1");
	size_t mlen = (size_t)(sp1 - s), tlen = (size_t)(sp2 - t);
	const char *v = sp2 + 1;
	size_t vlen = n - (size_t)(v - s);
	if (!is_token(s, mlen) || mlen >= VMM_HTTP_METHOD_MAX)
		return fail(p, 400, "malformed request line: bad method");
	if (tlen == 0 || (t[0] != '/' && t[0] != 'h' && t[0] != 'H'))
		return fail(p, 400, "malformed request line: bad request target");
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return fail(p, 400, "malformed request line: bad request target");
	if (vlen == 8 && memcmp(v, "HTTP/1.1", 8) == 0) {
		p->http10 = false;
	} else if (vlen == 8 && memcmp(v, "HTTP/1.0", 8) == 0) {
		p->http10 = true;
	} else if (vlen == 8 && memcmp(v, "HTTP/", 5) == 0) {
		return fail(p, 505, "HTTP version not supported: use HTTP/1.1");
	} else {
		return fail(p, 400, "malformed request line: expected METHOD TARGET HTTP/1.1");
	}
	memcpy(p->msg.method, s, mlen);
	p->msg.method[mlen] = '\0';
	take_endpoint(&p->msg, t, tlen);
	p->have_line = true;
	return VMM_HTTP_MORE;
}

/* Content-Length: digits only, the same value each time it appears. */
static enum vmm_http_result content_length(struct vmm_http_parser *p, const char *v, size_t n)
{
	if (n == 0)
		return fail(p, 400, "invalid Content-Length: expected a number of bytes");
	uint64_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(p, 400, "invalid Content-Length: expected a number of bytes");
		if (len <= VMM_API_MAX_BODY)
			len = len * 10 + (uint64_t)(v[i] - '0');
	}
	if (len > VMM_API_MAX_BODY)
		return fail(p, 413, "request body too large: Content-Length over 1 MiB");
	if (p->have_length && p->msg.body_len != len)
		return fail(p, 400, "conflicting Content-Length headers");
	p->have_length = true;
	p->msg.body_len = (size_t)len;
	return VMM_HTTP_MORE;
}

/* Connection: a comma-separated list of options; only close and keep-alive matter here. */
static void connection(struct vmm_http_parser *p, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t start = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		size_t len = i - start;
		if (len == 5 && strncasecmp(v + start, "close", 5) == 0)
			p->conn_close = true;
		else if (len == 10 && strncasecmp(v + start, "keep-alive", 10) == 0)
			p->conn_keep = true;
	}
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

static enum vmm_http_result header_line(struct vmm_http_parser *p, const char *s, size_t n)
{
	if (s[0] == ' ' || s[0] == '\t')
		return fail(p, 400, "malformed header: folded header lines are not accepted");
	const char *colon = memchr(s, ':', n);
	if (!colon || !is_token(s, (size_t)(colon - s)))
		return fail(p, 400, "malformed header: expected Name: value");
	size_t nlen = (size_t)(colon - s);
	const char *v = colon + 1, *end = s + n;
	for (const char *c = v; c < end; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return fail(p, 400, "malformed header: control character in a value");
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vlen = (size_t)(end - v);
	if (name_is(s, nlen, "content-length"))
		return content_length(p, v, vlen);
	if (name_is(s, nlen, "transfer-encoding"))
		return fail(p, 411,
			    "chunked (Transfer-Encoding) request bodies are not supported: send "
			    "Content-Length");
	if (name_is(s, nlen, "connection"))
		connection(p, v, vlen);
	if (name_is(s, nlen, "expect")) {
		if (vlen != 12 || strncasecmp(v, "100-continue", 12) != 0)
			return fail(p, 417, "unsupported Expect: only 100-continue is");
		/* RFC 9110 10.1.1: an HTTP/1.0 client does not wait for it. */
		p->msg.expect_continue = !p->http10;
	}
	return VMM_HTTP_MORE;
}

/* One complete line [p->line, cr). An empty one ends the head (or precedes the request line,
 * which RFC 9112 2.2 lets a server skip). */
static enum vmm_http_result line(struct vmm_http_parser *p, const char *buf, size_t cr)
{
	const char *s = buf + p->line;
	size_t n = cr - p->line;
	if (n == 0) {
		if (p->have_line)
			p->head_done = true;
		return VMM_HTTP_MORE;
	}
	return p->have_line ? header_line(p, s, n) : request_line(p, s, n);
}

static enum vmm_http_result parse_head(struct vmm_http_parser *p, const char *buf, size_t len)
{
	size_t stop = len < VMM_API_MAX_HEADER ? len : VMM_API_MAX_HEADER;
	for (; p->scan < stop && !p->head_done; p->scan++) {
		char c = buf[p->scan];
		if (c == '\0')
			return fail(p, 400, "malformed request: NUL byte in the head");
		if (c != '\n') {
			if (p->scan > 0 && buf[p->scan - 1] == '\r')
				return fail(p, 400,
					    "malformed request: lines must end in CRLF, "
					    "not a lone CR");
			continue;
		}
		if (p->scan == 0 || buf[p->scan - 1] != '\r')
			return fail(p, 400, "malformed request: lines must end in CRLF, not LF");
		enum vmm_http_result r = line(p, buf, p->scan - 1);
		if (r != VMM_HTTP_MORE)
			return r;
		p->line = p->scan + 1;
	}
	if (p->head_done) {
		p->msg.head_len = p->scan;
		p->msg.keep_alive = !p->conn_close && (!p->http10 || p->conn_keep);
		return VMM_HTTP_MORE;
	}
	if (p->scan >= VMM_API_MAX_HEADER)
		return fail(p, 431, "request header fields too large: over 16 KiB");
	return VMM_HTTP_MORE;
}

enum vmm_http_result vmm_http_parse(struct vmm_http_parser *p, const char *buf, size_t len)
{
	if (p->msg.status)
		return VMM_HTTP_ERROR;
	if (!p->head_done) {
		enum vmm_http_result r = parse_head(p, buf, len);
		if (r != VMM_HTTP_MORE || !p->head_done)
			return r;
	}
	if (len - p->msg.head_len >= p->msg.body_len)
		return VMM_HTTP_READY;
	if (p->head_told)
		return VMM_HTTP_MORE;
	p->head_told = true;
	return VMM_HTTP_HEAD;
}

const char *vmm_http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} t[] = {
		{100, "Continue"},
		{200, "OK"},
		{204, "No Content"},
		{400, "Bad Request"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{411, "Length Required"},
		{413, "Content Too Large"},
		{417, "Expectation Failed"},
		{429, "Too Many Requests"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{503, "Service Unavailable"},
		{505, "HTTP Version Not Supported"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].status == status)
			return t[i].reason;
	return "Unknown";
}

char *vmm_http_reply(int status, const char *body, bool close, size_t *len)
{
	char head[256];
	size_t blen = status == 204 || !body ? 0 : strlen(body);
	int n;
	if (status == 204)
		n = snprintf(head, sizeof(head), "HTTP/1.1 204 No Content\r\n%s\r\n",
			     close ? "Connection: close\r\n" : "");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n%s\r\n", status,
			     vmm_http_reason(status),
			     blen ? "Content-Type: application/json\r\n" : "", blen,
			     close ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	char *r = malloc((size_t)n + blen + 1);
	if (!r)
		return NULL;
	memcpy(r, head, (size_t)n);
	if (blen)
		memcpy(r + n, body, blen);
	r[(size_t)n + blen] = '\0';
	*len = (size_t)n + blen;
	return r;
}
