/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user protocol on the wire (QEMU docs/interop/vhost-user.rst): message header,
 * request codes, protocol feature bits, payload layouts, and the inflight tracking region.
 * Shared by vmmon (front-end) and ioproxy (back-end). Native byte order, packed as QEMU sends.
 * The vring state and address payloads are Linux's <linux/vhost_types.h>.
 */
#ifndef VMMON_INCLUDE_VHOST_USER_H
#define VMMON_INCLUDE_VHOST_USER_H

#include <linux/vhost_types.h>
#include <stdint.h>

/* Header flags. */
#define VHOST_USER_VERSION	   0x1
#define VHOST_USER_VERSION_MASK	   0x3
#define VHOST_USER_REPLY_MASK	   (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* A virtio feature bit reused for "protocol features are negotiable". */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Front-end requests. */
enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_MAX,
};

/* Protocol features. */
#define VHOST_USER_PROTOCOL_F_MQ		  0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD		  1
#define VHOST_USER_PROTOCOL_F_RARP		  2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		  3
#define VHOST_USER_PROTOCOL_F_MTU		  4
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	  5
#define VHOST_USER_PROTOCOL_F_CONFIG		  9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD	  12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	  13
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS		  16

#define VHOST_USER_MAX_FDS			  8 /* per message, in SCM_RIGHTS */
#define VHOST_USER_MEM_REGIONS			  8
#define VHOST_USER_CONFIG_MAX			  256
/* SET_VRING_KICK/CALL/ERR payload: bits 0-7 the vring index, bit 8 "no fd (poll)". */
#define VHOST_USER_VRING_IDX_MASK  0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

struct vhost_user_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow */
} __attribute__((packed));
_Static_assert(sizeof(struct vhost_user_header) == 12, "vhost-user header layout");

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* in the front-end: vring addresses use these */
	uint64_t mmap_offset;	 /* where the region starts in its fd */
} __attribute__((packed));
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "memory region layout");

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MEM_REGIONS];
} __attribute__((packed));
_Static_assert(sizeof(struct vhost_user_memory) == 8 + 8 * 32, "memory table layout");

struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VHOST_USER_CONFIG_MAX];
} __attribute__((packed));

struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding; /* QEMU's struct ends on 8 bytes */
} __attribute__((packed));
_Static_assert(sizeof(struct vhost_user_inflight) == 24, "inflight description layout");

/* The largest payload: a full memory table (the config message is 268 bytes). */
union vhost_user_payload {
	uint64_t u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vhost_user_memory memory;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
};

/* ---- Inflight I/O tracking (INFLIGHT_SHMFD): one region per queue, in queue order. The
 * back-end allocates and interprets the buffer; the front-end only keeps it and hands it back.
 * Natural alignment, as QEMU's definitions. ---- */

#define VHOST_USER_INFLIGHT_VERSION 1

struct vhost_user_inflight_desc_split {
	uint8_t inflight; /* the head is in flight */
	uint8_t padding[5];
	uint16_t next;	  /* links the last batch of used heads */
	uint64_t counter; /* order in which heads were taken */
};
_Static_assert(sizeof(struct vhost_user_inflight_desc_split) == 16, "DescStateSplit layout");

struct vhost_user_inflight_split {
	uint64_t features;
	uint16_t version; /* 0: not initialised */
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vhost_user_inflight_desc_split desc[];
};
_Static_assert(sizeof(struct vhost_user_inflight_split) == 16, "QueueRegionSplit layout");

struct vhost_user_inflight_desc_packed {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};
_Static_assert(sizeof(struct vhost_user_inflight_desc_packed) == 32, "DescStatePacked layout");

struct vhost_user_inflight_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[7];
	struct vhost_user_inflight_desc_packed desc[];
};
_Static_assert(sizeof(struct vhost_user_inflight_packed) == 32, "QueueRegionPacked layout");

/* Bytes of one queue's region, padded to 64 so each queue starts on its own cache line. */
static inline uint64_t vhost_user_inflight_queue_size(uint16_t queue_size, int packed)
{
	uint64_t n = packed ? sizeof(struct vhost_user_inflight_packed) +
				      (uint64_t)queue_size *
					      sizeof(struct vhost_user_inflight_desc_packed)
			    : sizeof(struct vhost_user_inflight_split) +
				      (uint64_t)queue_size *
					      sizeof(struct vhost_user_inflight_desc_split);
	return (n + 63) & ~63ull;
}

#endif
