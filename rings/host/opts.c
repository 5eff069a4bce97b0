/* SPDX-License-Identifier: MIT */
#include "opts.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac_addr.h"

static bool number(const char *val, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(val, &end, 10);
	if (!isdigit((unsigned char)*val) || *end || errno || n < lo || n > hi)
		return false;
	*out = (unsigned)n;
	return true;
}

int host_opt_number(const char *what, const char *val, unsigned long lo, unsigned long hi,
		    unsigned *out, struct host_err *err)
{
	if (!number(val, lo, hi, out))
		return host_err_set(err, EINVAL, "%s %s: give a number from %lu to %lu", what, val,
				    lo, hi);
	return 0;
}

int host_opt_str(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		 struct host_err *err)
{
	(void)k, (void)opt, (void)err;
	*(const char **)field = val;
	return 0;
}

int host_opt_strbuf(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		    struct host_err *err)
{
	size_t n = strlen(val);
	if (n > k->hi)
		return host_err_set(err, EINVAL, "%s: %s=%s: at most %lu characters", opt, k->key,
				    val, k->hi);
	memcpy(field, val, n + 1);
	return 0;
}

int host_opt_bool(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		  struct host_err *err)
{
	bool *out = field;
	if (!strcmp(val, "on") || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "off") || !strcmp(val, "false"))
		*out = false;
	else
		return host_err_set(err, EINVAL, "%s: %s=%s: use on or off", opt, k->key, val);
	return 0;
}

int host_opt_uint(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		  struct host_err *err)
{
	if (!number(val, k->lo, k->hi, field))
		return host_err_set(err, EINVAL, "%s: %s=%s: give a number from %lu to %lu", opt,
				    k->key, val, k->lo, k->hi);
	return 0;
}

int host_opt_enum(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		  struct host_err *err)
{
	char known[128] = "";
	for (int i = 0; k->words[i]; i++) {
		if (!strcmp(val, k->words[i])) {
			*(int *)field = i;
			return 0;
		}
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s", i ? " or " : "", k->words[i]);
	}
	return host_err_set(err, EINVAL, "%s: %s=%s: use %s", opt, k->key, val, known);
}

int host_opt_mac(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		 struct host_err *err)
{
	struct host_mac *mac = field;
	if (mac_addr_parse(val, mac->addr))
		return host_err_set(err, EINVAL,
				    "%s: %s=%s: give a unicast address such as 52:54:00:12:34:56",
				    opt, k->key, val);
	mac->set = true;
	return 0;
}

/* The words of k as "a, b, c". */
static void word_list(const struct host_opt_key *k, char *out, size_t size)
{
	out[0] = 0;
	for (int i = 0; k->words[i]; i++) {
		size_t used = strlen(out);
		snprintf(out + used, size - used, "%s%s", i ? ", " : "", k->words[i]);
	}
}

int host_opt_set(const struct host_opt_key *k, const char *opt, const char *val, void *field,
		 struct host_err *err)
{
	struct host_opt_set *set = field;
	unsigned n = 0, mask = 0;
	while (k->words[n])
		n++;
	if (!strcmp(val, "all") || !strcmp(val, "none")) {
		*set = (struct host_opt_set){.mask = val[0] == 'a' ? (1u << n) - 1 : 0,
					     .given = true};
		return 0;
	}
	for (const char *w = val;;) {
		size_t len = strcspn(w, "+");
		unsigned i = 0;
		while (i < n && (strlen(k->words[i]) != len || strncmp(w, k->words[i], len)))
			i++;
		if (i == n || !len) {
			char known[160];
			word_list(k, known, sizeof(known));
			return host_err_set(err, EINVAL,
					    "%s: %s=%s: use all, none, or names joined by '+' from "
					    "%s",
					    opt, k->key, val, known);
		}
		mask |= 1u << i;
		if (!w[len])
			break;
		w += len + 1;
	}
	*set = (struct host_opt_set){.mask = mask, .given = true};
	return 0;
}

static const struct host_opt_key *find(const struct host_opt_key *keys, const char *key)
{
	for (; keys->key; keys++)
		if (!strcmp(keys->key, key))
			return keys;
	return NULL;
}

static int unknown(const char *opt, const char *key, const struct host_opt_key *keys,
		   struct host_err *err)
{
	char known[200] = "";
	for (const struct host_opt_key *k = keys; k->key; k++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s", k == keys ? "" : ", ", k->key);
	}
	return host_err_set(err, EINVAL, "%s: unknown key '%s' (known: %s)", opt, key, known);
}

int host_opts_parse(const char *opt, const char *arg, char *buf, const struct host_opt_key *keys,
		    void *target, struct host_err *err)
{
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1])
			return host_err_set(err, EINVAL, "%s %s: '%s' is not key=value", opt, arg,
					    tok);
		*eq = 0;
		const struct host_opt_key *k = find(keys, tok);
		if (!k)
			return unknown(opt, tok, keys, err);
		int ret = k->parse(k, opt, eq + 1, (char *)target + k->off, err);
		if (ret)
			return ret;
	}
	return 0;
}
