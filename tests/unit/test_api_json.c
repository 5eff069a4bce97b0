/* SPDX-License-Identifier: MIT */
/* The API's JSON parser: valid texts, each invalid form refused, the limits, lookups and the
 * fields nobody read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/json.h"

static struct json_value *parse_ok(const char *s)
{
	struct host_err err = {{0}};
	struct json_value *v = NULL;
	int ret = json_parse(s, strlen(s), &v, &err);
	if (ret)
		fail_msg("refused %s: %s", s, err.msg);
	return v;
}

static void valid(void **state)
{
	(void)state;
	struct json_value *v = parse_ok(
		" {\"a\":[1,-2,3.5e1,true,false,null,\"x\\u00e9\\ud83d\\ude00\\n\"],\"b\":{}} ");
	assert_int_equal(v->type, JSON_OBJECT);
	struct json_value *a = json_get(v, "a");
	assert_non_null(a);
	assert_int_equal(a->n, 7);
	assert_true(a->items[0].is_u64);
	assert_int_equal(a->items[0].u64, 1);
	assert_false(a->items[1].is_u64);
	assert_true(a->items[1].is_i64);
	assert_int_equal(a->items[1].i64, -2);
	assert_false(a->items[2].is_i64); /* 3.5e1: not an integer field's value */
	assert_true(a->items[3].b);
	assert_false(a->items[4].b);
	assert_int_equal(a->items[5].type, JSON_NULL);
	assert_string_equal(a->items[6].s, "x\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_null(json_get(v, "zz"));
	json_free(v);
	/* Scalars at the top are JSON texts too (RFC 8259). */
	v = parse_ok("18446744073709551615");
	assert_true(v->is_u64);
	assert_int_equal(v->u64, UINT64_MAX);
	assert_false(v->is_i64);
	json_free(v);
	v = parse_ok("-9223372036854775808");
	assert_true(v->is_i64);
	assert_int_equal(v->i64, INT64_MIN);
	json_free(v);
	v = parse_ok("18446744073709551616"); /* valid JSON, but no integer field takes it */
	assert_false(v->is_u64);
	assert_false(v->is_i64);
	json_free(v);
}

static void invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"}",
		"[1,]",
		"[,1]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":1}x",
		"{} {}",
		"01",
		"-",
		"1.",
		"1e",
		".5",
		"+1",
		"tru",
		"nul",
		"True",
		"\"abc",
		"\"\\x\"",
		"\"\\u12\"",
		"\"\\u12g4\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\u0000\"",
		"\"a\tb\"",
		"\"\x01\"",
		"\"\xc3\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"\"\xff\"",
		"{\"a\":1,\"a\":2}",
		"[1 2]",
		"NaN",
		"Infinity",
		"'a'",
		"[1]]",
		"\"\\'\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct host_err err = {{0}};
		struct json_value *v = (void *)1;
		int ret = json_parse(bad[i], strlen(bad[i]), &v, &err);
		if (ret != -EINVAL)
			fail_msg("accepted or wrong error for case %zu: %s", i, bad[i]);
		assert_null(v);
		assert_true(err.msg[0] != '\0');
	}
	/* A NUL byte inside the text (the length says it is there). */
	struct host_err err = {{0}};
	struct json_value *v;
	assert_int_equal(json_parse("\"a\0b\"", 5, &v, &err), -EINVAL);
}

static void limits(void **state)
{
	(void)state;
	char deep[2 * JSON_MAX_DEPTH + 8];
	size_t n = 0;
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	struct host_err err = {{0}};
	struct json_value *v;
	assert_int_equal(json_parse(deep, n, &v, &err), 0);
	json_free(v);
	/* One level more is refused. */
	memmove(deep + 1, deep, n);
	deep[0] = '[';
	deep[n + 1] = ']';
	assert_int_equal(json_parse(deep, n + 2, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "deep"));
	/* Size. */
	size_t big = JSON_MAX_SIZE + 1;
	char *s = malloc(big);
	memset(s, ' ', big);
	s[0] = '1';
	assert_int_equal(json_parse(s, big, &v, &err), -EINVAL);
	free(s);
	/* Members per object. */
	char *obj = malloc(16 * (JSON_MAX_MEMBERS + 2));
	n = 0;
	obj[n++] = '{';
	for (int i = 0; i <= JSON_MAX_MEMBERS; i++)
		n += (size_t)sprintf(obj + n, "%s\"k%d\":0", i ? "," : "", i);
	obj[n++] = '}';
	assert_int_equal(json_parse(obj, n, &v, &err), -EINVAL);
	free(obj);
}

static void unused(void **state)
{
	(void)state;
	struct json_value *v =
		parse_ok("{\"a\":1,\"d\":[{\"path\":\"x\",\"iommu\":false}],\"z\":{\"q\":1}}");
	char p[64];
	assert_true(json_unused(v, p, sizeof(p)));
	assert_string_equal(p, "a");
	json_get(v, "a");
	json_get(v, "z");
	struct json_value *d = json_get(v, "d");
	json_get(&d->items[0], "path");
	assert_true(json_unused(v, p, sizeof(p)));
	assert_string_equal(p, "d[0].iommu");
	json_get(&d->items[0], "iommu");
	assert_true(json_unused(v, p, sizeof(p)));
	assert_string_equal(p, "z.q");
	json_get(json_get(v, "z"), "q");
	assert_false(json_unused(v, p, sizeof(p)));
	json_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid),
		cmocka_unit_test(invalid),
		cmocka_unit_test(limits),
		cmocka_unit_test(unused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
