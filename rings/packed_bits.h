/* SPDX-License-Identifier: MIT */
/*
 * Packed-ring descriptor flags and positions (virtio 1.2, 2.8.1), for everything that reads or
 * writes a packed ring: rings/packed.c and the back-end's inflight recovery. A position is a
 * slot and a wrap counter; both sides start at slot 0 with the counter at 1 and flip it each
 * time they pass the last slot. Freestanding.
 */
#ifndef VMMON_RINGS_PACKED_BITS_H
#define VMMON_RINGS_PACKED_BITS_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#define VQ_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define VQ_F_USED  (1u << VRING_PACKED_DESC_F_USED)

/* An available descriptor of lap `wrap` has AVAIL == wrap and USED != wrap; a used one has
 * both equal to the device's counter. */
static inline uint16_t vq_packed_avail_bits(bool wrap)
{
	return wrap ? VQ_F_AVAIL : VQ_F_USED;
}

static inline uint16_t vq_packed_used_bits(bool wrap)
{
	return wrap ? VQ_F_AVAIL | VQ_F_USED : 0;
}

static inline bool vq_packed_is_avail(uint16_t flags, bool wrap)
{
	return (flags & (VQ_F_AVAIL | VQ_F_USED)) == vq_packed_avail_bits(wrap);
}

static inline bool vq_packed_is_used(uint16_t flags, bool wrap)
{
	return (flags & (VQ_F_AVAIL | VQ_F_USED)) == vq_packed_used_bits(wrap);
}

/* Moves a position n (at most num) slots on, flipping the wrap counter past the end. */
static inline void vq_packed_advance(uint16_t *pos, bool *wrap, uint32_t n, uint16_t num)
{
	uint32_t p = (uint32_t)*pos + n;
	if (p >= num) {
		p -= num;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

#endif
