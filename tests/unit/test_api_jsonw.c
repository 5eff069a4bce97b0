/* SPDX-License-Identifier: MIT */
/* The API's JSON writer: escaping, formatting, growth, and the error reply's shape. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/jsonw.h"

static void escapes(void **state)
{
	(void)state;
	struct jsonw w = {0};
	jsonw_raw(&w, "[");
	jsonw_str(&w, "a\"b\\c\nd\x01\t\xc3\xa9");
	jsonw_raw(&w, ",");
	jsonw_str(&w, NULL);
	jsonw_printf(&w, ",%d]", -42);
	char *s = jsonw_take(&w);
	assert_string_equal(s, "[\"a\\\"b\\\\c\\nd\\u0001\\t\xc3\xa9\",null,-42]");
	free(s);
	/* Taken: the writer starts again empty. */
	s = jsonw_take(&w);
	assert_string_equal(s, "");
	free(s);
}

static void grows(void **state)
{
	(void)state;
	struct jsonw w = {0};
	for (int i = 0; i < 10000; i++)
		jsonw_printf(&w, "%04d", i % 10000);
	char *s = jsonw_take(&w);
	assert_int_equal(strlen(s), 40000);
	assert_memory_equal(s + 4 * 9999, "9999", 4);
	free(s);
}

static void error_reply(void **state)
{
	(void)state;
	struct vmm_api_response r = {.body = strdup("old")};
	assert_int_equal(vmm_api_error(&r, 404, "VM is not created", NULL), -EINVAL);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "[\"VM is not created\"]");
	vmm_api_error(&r, 400, "cpus.boot_vcpus: \"x\"", "invalid VmConfig");
	assert_string_equal(r.body, "[\"cpus.boot_vcpus: \\\"x\\\"\",\"invalid VmConfig\"]");
	free(r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes),
		cmocka_unit_test(grows),
		cmocka_unit_test(error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
