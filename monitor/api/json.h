/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON parser (RFC 8259) into a small tree, for the API's request bodies. Strict: one
 * value and only whitespace around it, UTF-8 text, no bare control characters in strings, only
 * the escapes the RFC lists, no duplicate keys, bounded depth and size. Lookups by key mark the
 * member as consumed, so a caller can refuse, by name, every field it did not read.
 */
#ifndef VMMON_API_JSON_H
#define VMMON_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/err.h"

#define JSON_MAX_DEPTH	 32
#define JSON_MAX_SIZE	 (1u << 20)
#define JSON_MAX_MEMBERS 256 /* per object: the duplicate-key check is quadratic */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

struct json_value {
	enum json_type type;
	bool b;
	/* A number: its text; whether it is an integer (no fraction, no exponent) that fits. */
	bool is_i64, is_u64;
	int64_t i64;
	uint64_t u64;
	char *s; /* a string (NUL-free, UTF-8), or a number's text */
	size_t n;
	struct json_value *items;    /* an array's n items */
	struct json_member *members; /* an object's n members, in order */
};

struct json_member {
	char *key;
	bool used; /* looked up by json_get */
	struct json_value v;
};

/* Parses text[0..len). Returns 0 and *out (json_free it), or -EINVAL (or -ENOMEM) with a
 * message saying where and what. */
int json_parse(const char *text, size_t len, struct json_value **out, struct host_err *err);
void json_free(struct json_value *v);

/* The member `key` of an object (marked consumed), or NULL (absent, or v is no object). */
struct json_value *json_get(struct json_value *obj, const char *key);
/* The first member nobody looked up, searched depth first through the consumed members' values
 * (objects and arrays): its path ("disks[0].iommu") in buf. Returns false when all were read. */
bool json_unused(const struct json_value *v, char *buf, size_t size);
const char *json_type_name(enum json_type t);

#endif
