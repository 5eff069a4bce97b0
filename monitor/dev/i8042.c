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

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void reply(struct i8042 *k, uint8_t byte)
{
	k->outbuf = byte;
	k->status |= I8042_STR_OBF;
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
		/* A byte without a command is for the keyboard, which is absent: dropped. */
	}
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
