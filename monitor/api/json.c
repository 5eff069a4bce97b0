/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p, *end, *start;
	unsigned depth;
	struct host_err *err;
};

static int fail(struct parser *ps, const char *what)
{
	return host_err_set(ps->err, EINVAL, "invalid JSON at byte %zu: %s",
			    (size_t)(ps->p - ps->start), what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

/* One UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most U+10FFFF): its
 * length, or 0 if malformed. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], n, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	unsigned cp = c & (0x7f >> n);
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int hex4(struct parser *ps, unsigned *out)
{
	if (ps->end - ps->p < 4)
		return fail(ps, "short \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A \u escape (the backslash and 'u' read): one code point, a surrogate pair joined. U+0000 is
 * refused: the strings become C strings (paths, names). */
static int unicode_escape(struct parser *ps, unsigned *cp)
{
	int ret = hex4(ps, cp);
	if (ret)
		return ret;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(ps, "lone low surrogate");
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		unsigned lo;
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "lone high surrogate");
		ps->p += 2;
		if ((ret = hex4(ps, &lo)))
			return ret;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, "high surrogate without its low half");
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return *cp ? 0 : fail(ps, "\\u0000 in a string");
}

static int escape(struct parser *ps, char *o, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (ps->p == ps->end)
		return fail(ps, "unterminated string");
	char c = *ps->p++;
	if (c == 'u') {
		unsigned cp;
		int ret = unicode_escape(ps, &cp);
		if (!ret)
			*n += put_utf8(o + *n, cp);
		return ret;
	}
	const char *at = c ? strchr(from, c) : NULL;
	if (!at)
		return fail(ps, "bad escape in a string");
	o[(*n)++] = to[at - from];
	return 0;
}

/* A string (the opening quote read). The unescaped text is never longer than the escaped. */
static int string(struct parser *ps, char **out, size_t *len)
{
	const char *q = ps->p;
	while (q < ps->end && *q != '"')
		q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
	char *o = malloc((size_t)(q - ps->p) + 1);
	if (!o)
		return host_err_set(ps->err, ENOMEM, "out of memory");
	size_t n = 0;
	int ret = 0;
	for (;;) {
		if (ps->p == ps->end) {
			ret = fail(ps, "unterminated string");
			break;
		}
		unsigned char c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20) {
			ret = fail(ps, "control character in a string");
			break;
		}
		if (c == '\\') {
			ps->p++;
			if ((ret = escape(ps, o, &n)))
				break;
			continue;
		}
		size_t u = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
		if (!u) {
			ret = fail(ps, "invalid UTF-8");
			break;
		}
		memcpy(o + n, ps->p, u);
		n += u;
		ps->p += u;
	}
	if (ret) {
		free(o);
		return ret;
	}
	o[n] = '\0';
	*out = o;
	*len = n;
	return 0;
}

static bool digit(const struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct parser *ps, struct json_value *v)
{
	const char *s = ps->p;
	bool neg = *ps->p == '-', integer = true;
	if (neg)
		ps->p++;
	if (!digit(ps))
		return fail(ps, "bad number");
	if (*ps->p == '0') {
		ps->p++;
		if (digit(ps))
			return fail(ps, "leading zero in a number");
	}
	while (digit(ps))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		integer = false;
		if (!digit(ps))
			return fail(ps, "no digit after the decimal point");
		while (digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		integer = false;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!digit(ps))
			return fail(ps, "no digit in the exponent");
		while (digit(ps))
			ps->p++;
	}
	v->type = JSON_NUMBER;
	v->n = (size_t)(ps->p - s);
	v->s = strndup(s, v->n);
	if (!v->s)
		return host_err_set(ps->err, ENOMEM, "out of memory");
	if (!integer)
		return 0;
	const char *d = v->s + neg;
	uint64_t mag = 0;
	for (; *d; d++) {
		unsigned dv = (unsigned)(*d - '0');
		if (mag > (UINT64_MAX - dv) / 10)
			return 0; /* too large for any integer field */
		mag = mag * 10 + dv;
	}
	v->is_u64 = !neg || !mag;
	v->u64 = v->is_u64 ? mag : 0;
	v->is_i64 = neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX;
	v->i64 = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int value(struct parser *ps, struct json_value *v);

/* After an item of an array or object: 1 if a ',' says another follows, 0 at the closing
 * bracket, or a parse error. */
static int after_item(struct parser *ps, char close, const char *what)
{
	skip_ws(ps);
	if (ps->p < ps->end && (*ps->p == ',' || *ps->p == close))
		return *ps->p++ == ',';
	return fail(ps, what);
}

/* Room for one more element of `size` bytes in *items (n used of *cap). */
static int grow(struct parser *ps, void **items, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return 0;
	size_t want = *cap ? *cap * 2 : 4;
	void *p = realloc(*items, want * size);
	if (!p)
		return host_err_set(ps->err, ENOMEM, "out of memory");
	*items = p;
	*cap = want;
	return 0;
}

static int array(struct parser *ps, struct json_value *v)
{
	v->type = JSON_ARRAY;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (size_t cap = 0;;) {
		int ret = grow(ps, (void **)&v->items, v->n, &cap, sizeof(*v->items));
		if (ret)
			return ret;
		struct json_value *it = &v->items[v->n];
		memset(it, 0, sizeof(*it));
		v->n++;
		ret = value(ps, it);
		if (!ret)
			ret = after_item(ps, ']', "expected ',' or ']' in an array");
		if (ret <= 0)
			return ret;
	}
}

static int member(struct parser *ps, struct json_value *obj, struct json_member *m)
{
	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != '"')
		return fail(ps, "expected a string key in an object");
	ps->p++;
	size_t len;
	int ret = string(ps, &m->key, &len);
	if (ret)
		return ret;
	for (size_t i = 0; i + 1 < obj->n; i++)
		if (!strcmp(obj->members[i].key, m->key))
			return fail(ps, "duplicate key in an object");
	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != ':')
		return fail(ps, "expected ':' after a key");
	ps->p++;
	return value(ps, &m->v);
}

static int object(struct parser *ps, struct json_value *v)
{
	v->type = JSON_OBJECT;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (size_t cap = 0;;) {
		if (v->n == JSON_MAX_MEMBERS)
			return fail(ps, "too many members in an object");
		int ret = grow(ps, (void **)&v->members, v->n, &cap, sizeof(*v->members));
		if (ret)
			return ret;
		struct json_member *m = &v->members[v->n];
		memset(m, 0, sizeof(*m));
		v->n++;
		ret = member(ps, v, m);
		if (!ret)
			ret = after_item(ps, '}', "expected ',' or '}' in an object");
		if (ret <= 0)
			return ret;
	}
}

static int value(struct parser *ps, struct json_value *v)
{
	skip_ws(ps);
	if (ps->p == ps->end)
		return fail(ps, "unexpected end of text");
	char c = *ps->p;
	if (c == '{' || c == '[') {
		if (++ps->depth > JSON_MAX_DEPTH)
			return fail(ps, "nested too deeply");
		ps->p++;
		int ret = c == '{' ? object(ps, v) : array(ps, v);
		ps->depth--;
		return ret;
	}
	if (c == '"') {
		ps->p++;
		v->type = JSON_STRING;
		return string(ps, &v->s, &v->n);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(ps, v);
	if (literal(ps, "true") || literal(ps, "false")) {
		v->type = JSON_BOOL;
		v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
		return 0;
	}
	if (literal(ps, "null")) {
		v->type = JSON_NULL;
		return 0;
	}
	return fail(ps, "unexpected character");
}

static void release(struct json_value *v)
{
	free(v->s);
	if (v->type == JSON_ARRAY) {
		for (size_t i = 0; i < v->n; i++)
			release(&v->items[i]);
		free(v->items);
	} else if (v->type == JSON_OBJECT) {
		for (size_t i = 0; i < v->n; i++) {
			free(v->members[i].key);
			release(&v->members[i].v);
		}
		free(v->members);
	}
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	release(v);
	free(v);
}

int json_parse(const char *text, size_t len, struct json_value **out, struct host_err *err)
{
	*out = NULL;
	if (len > JSON_MAX_SIZE)
		return host_err_set(err, EINVAL, "JSON text of %zu bytes: at most %u", len,
				    JSON_MAX_SIZE);
	struct parser ps = {.p = text, .end = text + len, .start = text, .err = err};
	struct json_value *v = calloc(1, sizeof(*v));
	if (!v)
		return host_err_set(err, ENOMEM, "out of memory");
	int ret = value(&ps, v);
	if (!ret) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			ret = fail(&ps, "trailing characters after the value");
	}
	if (ret) {
		json_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

struct json_value *json_get(struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++) {
		if (!strcmp(obj->members[i].key, key)) {
			obj->members[i].used = true;
			return &obj->members[i].v;
		}
	}
	return NULL;
}

static bool unused_at(const struct json_value *v, char *buf, size_t size, size_t at)
{
	if (v->type == JSON_ARRAY) {
		for (size_t i = 0; i < v->n; i++) {
			int n = snprintf(buf + at, size - at, "[%zu]", i);
			if (n > 0 && (size_t)n < size - at &&
			    unused_at(&v->items[i], buf, size, at + (size_t)n))
				return true;
		}
	} else if (v->type == JSON_OBJECT) {
		for (size_t i = 0; i < v->n; i++) {
			const struct json_member *m = &v->members[i];
			int n = snprintf(buf + at, size - at, "%s%s", at ? "." : "", m->key);
			if (n < 0 || (size_t)n >= size - at)
				n = (int)(size - at - 1); /* truncated; still reported */
			if (!m->used)
				return true;
			if (unused_at(&m->v, buf, size, at + (size_t)n))
				return true;
		}
	}
	buf[at] = '\0';
	return false;
}

bool json_unused(const struct json_value *v, char *buf, size_t size)
{
	if (!size)
		return false;
	buf[0] = '\0';
	return unused_at(v, buf, size, 0);
}

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = {"null",	"a boolean", "a number",
					    "a string", "an array",  "an object"};
	return names[t];
}
