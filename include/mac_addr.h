/* SPDX-License-Identifier: MIT */
/*
 * A station MAC address as users write it (52:54:00:12:34:56): the one parser behind vmmon's
 * and ioproxy's mac= options, so that both accept and refuse the same strings.
 */
#ifndef VMMON_MAC_ADDR_H
#define VMMON_MAC_ADDR_H

#include <errno.h>
#include <stdint.h>

static inline int mac_addr_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Exactly six pairs of hex digits separated by colons, and unicast (a multicast address is no
 * station's). Returns 0 or -EINVAL. */
static inline int mac_addr_parse(const char *val, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++, val += 3) {
		int hi = mac_addr_hex_digit(val[0]);
		int lo = hi < 0 ? -1 : mac_addr_hex_digit(val[1]);
		if (lo < 0 || val[2] != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return mac[0] & 1 ? -EINVAL : 0;
}

#endif
