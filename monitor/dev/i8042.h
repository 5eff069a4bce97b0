/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller, enough for firmware-style probing and the PC reset line: data port
 * 0x60, status/command port 0x64, controller commands (self-test, command byte, output port) and
 * reset through command 0xFE or output-port bit 0. No mouse. A keyboard is attached only for a
 * firmware (i8042_attach_keyboard): one without keys, which answers its commands (reset with
 * its self-test result, identify, LEDs, scan code set, typematic rate, enable and disable) so
 * that SeaBIOS finds it at once instead of waiting out a second of timeouts; its bytes pass
 * through the output buffer one at a time (held while the command byte disables the keyboard
 * interface) and raise IRQ 1 when the command byte enables it. Without it, bytes sent to the
 * keyboard are dropped and no interrupt is ever raised, as before.
 */
#ifndef VMMON_DEV_I8042_H
#define VMMON_DEV_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../irq.h"

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

#define I8042_CTR_KBDINT	   0x01
#define I8042_CTR_KBDDIS	   0x10
#define I8042_CTR_AUXDIS	   0x20
#define I8042_OUTPORT_RESET_N	   0x01 /* active low: clearing it resets the CPU */

/* Keyboard commands and replies (IBM PS/2 keyboard; Linux's atkbd names). */
#define KBD_CMD_SETLEDS	  0xed
#define KBD_CMD_ECHO	  0xee
#define KBD_CMD_SSCANSET  0xf0
#define KBD_CMD_GETID	  0xf2
#define KBD_CMD_SETREP	  0xf3
#define KBD_CMD_ENABLE	  0xf4
#define KBD_CMD_RESET_DIS 0xf5
#define KBD_CMD_RESET_DEF 0xf6
#define KBD_CMD_RESEND	  0xfe
#define KBD_CMD_RESET	  0xff
#define KBD_RET_ACK	  0xfa
#define KBD_RET_BAT	  0xaa /* self-test passed */
#define KBD_RET_RESEND	  0xfe
#define KBD_ID_0	  0xab /* an MF2 keyboard */
#define KBD_ID_1	  0x83
#define KBD_QUEUE	  16

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *ctx); /* the guest pulled the reset line */
	void *ctx;
	uint8_t status;
	uint8_t ctr; /* controller command byte */
	uint8_t outport;
	uint8_t outbuf;
	uint8_t pending_cmd; /* a command waiting for its data byte, or 0 */
	/* The keyboard, when attached. */
	bool keyboard;
	struct vmm_irq irq; /* IRQ 1 */
	bool irq_level;
	uint8_t kbd_cmd;	  /* a keyboard command waiting for its parameter, or 0 */
	uint8_t kbd_set;	  /* scan code set */
	uint8_t queue[KBD_QUEUE]; /* the keyboard's bytes not yet in the output buffer */
	unsigned q_head, q_count;
	bool outbuf_kbd; /* the output buffer holds a keyboard byte */
};

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx);
/* Plugs in the keyless keyboard, interrupting on irq. */
void i8042_attach_keyboard(struct i8042 *k, struct vmm_irq irq);
void i8042_destroy(struct i8042 *k);
uint8_t i8042_read(struct i8042 *k, unsigned off);
void i8042_write(struct i8042 *k, unsigned off, uint8_t val);
int i8042_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write);

#endif
