/* SPDX-License-Identifier: MIT */
#include "i8042.h"

#include <errno.h>

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00

/* State after the firmware's POST: self-test passed, keyboard interface on, translation on. */
static const struct i8042 reset_template = {
	.status = I8042_STR_SYS | I8042_STR_UNLOCKED,
	.ctr = 0x45, /* keyboard interrupt, system flag, scancode translation */
	.outport = I8042_OUTPORT_RESET_N | 0x02, /* CPU running, A20 enabled */
};

void i8042_init(struct i8042 *k, void (*reset)(void *), void *ctx)
{
	*k = reset_template;
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->ctx = ctx;
}

void i8042_attach_keyboard(struct i8042 *k, struct vmm_irq irq)
{
	pthread_mutex_lock(&k->lock);
	k->keyboard = true;
	k->irq = irq;
	k->kbd_set = 2;
	pthread_mutex_unlock(&k->lock);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

/* IRQ 1 follows a keyboard byte in the output buffer while the command byte enables it. */
static void update_irq(struct i8042 *k)
{
	bool level = (k->status & I8042_STR_OBF) && k->outbuf_kbd && (k->ctr & I8042_CTR_KBDINT);
	if (level != k->irq_level) {
		k->irq_level = level;
		vmm_irq_set(&k->irq, level);
	}
}

static void reply(struct i8042 *k, uint8_t byte)
{
	k->outbuf = byte;
	k->outbuf_kbd = false;
	k->status |= I8042_STR_OBF;
}

/* Moves the keyboard's next byte into an empty output buffer, unless the interface is off. */
static void kbd_deliver(struct i8042 *k)
{
	if ((k->status & I8042_STR_OBF) || !k->q_count || (k->ctr & I8042_CTR_KBDDIS))
		return;
	k->outbuf = k->queue[k->q_head];
	k->q_head = (k->q_head + 1) % KBD_QUEUE;
	k->q_count--;
	k->outbuf_kbd = true;
	k->status |= I8042_STR_OBF;
}

static void kbd_send(struct i8042 *k, uint8_t byte)
{
	if (k->q_count == KBD_QUEUE)
		return; /* a full keyboard buffer drops, as the device's own does */
	k->queue[(k->q_head + k->q_count++) % KBD_QUEUE] = byte;
}

/* A byte written to the keyboard: a command, or the parameter of the one before. */
static void kbd_write(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->kbd_cmd;
	k->kbd_cmd = 0;
	if (cmd == KBD_CMD_SSCANSET && val == 0) {
		kbd_send(k, KBD_RET_ACK);
		kbd_send(k, k->kbd_set); /* 0 asks which set is in use */
		return;
	}
	if (cmd == KBD_CMD_SSCANSET && val <= 3)
		k->kbd_set = val;
	if (cmd) {
		kbd_send(k, KBD_RET_ACK); /* LEDs, rate or set taken */
		return;
	}
	switch (val) {
	case KBD_CMD_SETLEDS:
	case KBD_CMD_SSCANSET:
	case KBD_CMD_SETREP:
		k->kbd_cmd = val;
		kbd_send(k, KBD_RET_ACK);
		break;
	case KBD_CMD_ECHO:
		kbd_send(k, KBD_CMD_ECHO);
		break;
	case KBD_CMD_GETID:
		kbd_send(k, KBD_RET_ACK);
		kbd_send(k, KBD_ID_0);
		kbd_send(k, KBD_ID_1);
		break;
	case KBD_CMD_ENABLE:
	case KBD_CMD_RESET_DIS:
	case KBD_CMD_RESET_DEF:
		kbd_send(k, KBD_RET_ACK);
		break;
	case KBD_CMD_RESET:
		k->kbd_set = 2;
		kbd_send(k, KBD_RET_ACK);
		kbd_send(k, KBD_RET_BAT);
		break;
	default:
		kbd_send(k, KBD_RET_RESEND); /* unknown, or 0xFE itself: nothing to resend */
		break;
	}
}

/* Returns true when the command pulls the reset line. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		reply(k, k->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPORT:
	case I8042_CMD_WRITE_KBD_OUTBUF:
		k->pending_cmd = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		k->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		k->ctr &= ~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_SELF_TEST:
		k->status |= I8042_STR_SYS;
		reply(k, SELF_TEST_OK);
		break;
	case I8042_CMD_KBD_TEST:
		reply(k, PORT_TEST_OK);
		break;
	case I8042_CMD_KBD_DISABLE:
		k->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		k->ctr &= ~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTPORT:
		reply(k, k->outport);
		break;
	default:
		/* 0xF0-0xFF pulse output-port bits low for 6 us; bit 0 is the reset line. */
		if (cmd >= 0xf0 && !(cmd & 0x01))
			return true;
		break; /* other commands talk to devices that are not there */
	}
	return false;
}

/* A data-port byte following a command that takes one. Returns true on reset. */
static bool command_data(struct i8042 *k, uint8_t cmd, uint8_t val)
{
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = val;
		break;
	case I8042_CMD_WRITE_OUTPORT:
		k->outport = val;
		return !(val & I8042_OUTPORT_RESET_N);
	case I8042_CMD_WRITE_KBD_OUTBUF:
		reply(k, val);
		break;
	}
	return false;
}

uint8_t i8042_read(struct i8042 *k, unsigned off)
{
	pthread_mutex_lock(&k->lock);
	uint8_t val = 0xff;
	if (off == I8042_CMD_OFF) {
		val = k->status;
	} else if (off == I8042_DATA_OFF) {
		val = k->outbuf;
		k->status &= ~I8042_STR_OBF;
		k->outbuf_kbd = false;
		update_irq(k); /* low, so that the next byte makes an edge of its own */
		kbd_deliver(k);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return val;
}

void i8042_write(struct i8042 *k, unsigned off, uint8_t val)
{
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	if (off == I8042_CMD_OFF) {
		k->status |= I8042_STR_CMD;
		k->pending_cmd = 0;
		reset = command(k, val);
	} else if (off == I8042_DATA_OFF) {
		k->status &= ~I8042_STR_CMD;
		uint8_t cmd = k->pending_cmd;
		k->pending_cmd = 0;
		reset = cmd && command_data(k, cmd, val);
		/* A byte without a command is for the keyboard; with none attached, dropped. */
		if (!cmd && k->keyboard)
			kbd_write(k, val);
	}
	kbd_deliver(k); /* the keyboard answered, or its interface was just enabled */
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->ctx);
}

int i8042_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	if (len != 1 || (off != I8042_DATA_OFF && off != I8042_CMD_OFF))
		return -EINVAL;
	if (is_write)
		i8042_write(dev, (unsigned)off, data[0]);
	else
		data[0] = i8042_read(dev, (unsigned)off);
	return 0;
}
