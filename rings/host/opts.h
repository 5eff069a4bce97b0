/* SPDX-License-Identifier: MIT */
/*
 * Command-line helpers shared by vmmon and ioproxy: numbers with a range, and the device
 * options' "key=value,key=value" lists parsed against a table of keys, each with its parser
 * and the offset of the field it fills. Every error is one line naming the option, the key and
 * what would be accepted.
 */
#ifndef HOST_OPTS_H
#define HOST_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct host_opt_key;

/* A MAC address option: six bytes, and whether it was given. */
struct host_mac {
	uint8_t addr[6];
	bool set;
};

/* A set of named switches (opt=rap+tdmd): bit i is words[i]; given: the key was there. */
struct host_opt_set {
	unsigned mask;
	bool given;
};

/* Parses val into the field at `field`. opt is the option ("--disk") for messages. */
typedef int host_opt_parse_fn(const struct host_opt_key *k, const char *opt, const char *val,
			      void *field, struct host_err *err);

struct host_opt_key {
	const char *key;
	host_opt_parse_fn *parse;
	size_t off;		  /* of the field in the target struct */
	unsigned long lo, hi;	  /* host_opt_uint: the range; host_opt_strbuf: the longest */
	const char *const *words; /* host_opt_enum: accepted values, NULL-ended; field = index */
};

host_opt_parse_fn host_opt_str;	   /* const char *, pointing into the parsed copy */
host_opt_parse_fn host_opt_strbuf; /* char[hi + 1], copied */
host_opt_parse_fn host_opt_bool;   /* bool: on/off, true/false */
host_opt_parse_fn host_opt_uint;   /* unsigned in [lo, hi] */
host_opt_parse_fn host_opt_enum;   /* int: the index of val in words */
host_opt_parse_fn host_opt_mac;	   /* struct host_mac */
host_opt_parse_fn host_opt_set;	   /* struct host_opt_set: all, none, or words joined by '+' */

/* Walks the "k=v,k=v" list in buf (tokenised in place; str values point into it), filling
 * target through keys (ended by a NULL key). arg is the original text, for messages. */
int host_opts_parse(const char *opt, const char *arg, char *buf, const struct host_opt_key *keys,
		    void *target, struct host_err *err);

/* A decimal number in [lo, hi]; "what" names it in the message ("--threads"). */
int host_opt_number(const char *what, const char *val, unsigned long lo, unsigned long hi,
		    unsigned *out, struct host_err *err);

#endif
