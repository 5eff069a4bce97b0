/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller, enough for firmware-style probing and the PC reset line: data port
 * 0x60, status/command port 0x64, controller commands (self-test, command byte, output port) and
 * reset through command 0xFE or output-port bit 0. No keyboard or mouse is attached.
 */
#ifndef VMMON_DEV_I8042_H
#define VMMON_DEV_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Ports as offsets from 0x60: data at 0, command/status at 4. */
#define I8042_DATA_OFF		   0
#define I8042_CMD_OFF		   4
#define I8042_NR_PORTS		   5

#define I8042_STR_OBF		   0x01
#define I8042_STR_SYS		   0x04
#define I8042_STR_CMD		   0x08 /* last write was to the command port */
#define I8042_STR_UNLOCKED	   0x10

#define I8042_CMD_READ_CTR	   0x20
#define I8042_CMD_WRITE_CTR	   0x60
#define I8042_CMD_AUX_DISABLE	   0xa7
#define I8042_CMD_AUX_ENABLE	   0xa8
#define I8042_CMD_SELF_TEST	   0xaa
#define I8042_CMD_KBD_TEST	   0xab
#define I8042_CMD_KBD_DISABLE	   0xad
#define I8042_CMD_KBD_ENABLE	   0xae
#define I8042_CMD_READ_OUTPORT	   0xd0
#define I8042_CMD_WRITE_OUTPORT	   0xd1
#define I8042_CMD_WRITE_KBD_OUTBUF 0xd2
#define I8042_CMD_PULSE_RESET	   0xfe

#define I8042_CTR_KBDDIS	   0x10
#define I8042_CTR_AUXDIS	   0x20
#define I8042_OUTPORT_RESET_N	   0x01 /* active low: clearing it resets the CPU */

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *ctx); /* the guest pulled the reset line */
	void *ctx;
	uint8_t status;
	uint8_t ctr; /* controller command byte */
	uint8_t outport;
	uint8_t outbuf;
	uint8_t pending_cmd; /* a command waiting for its data byte, or 0 */
};

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx);
void i8042_destroy(struct i8042 *k);
uint8_t i8042_read(struct i8042 *k, unsigned off);
void i8042_write(struct i8042 *k, unsigned off, uint8_t val);
int i8042_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
