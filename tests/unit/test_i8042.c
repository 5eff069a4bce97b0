/* SPDX-License-Identifier: MIT */
/*
 * i8042 keyboard controller as the IBM AT/PS2 documentation describes it: status register,
 * controller self-test, command byte, output port, and the CPU reset line (output port bit 0,
 * driven by command 0xD1 or pulsed by 0xF0-0xFF).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "dev/i8042.h"

#define STR_IBF 0x02 /* input buffer full: never, the controller consumes writes at once */

static void on_reset(void *ctx)
{
	unsigned *resets = ctx;
	(*resets)++;
}

static void cmd(struct i8042 *k, uint8_t val)
{
	i8042_write(k, I8042_CMD_OFF, val);
}

static void data(struct i8042 *k, uint8_t val)
{
	i8042_write(k, I8042_DATA_OFF, val);
}

static uint8_t status(struct i8042 *k)
{
	return i8042_read(k, I8042_CMD_OFF);
}

/* Reads the reply to a command, which must be waiting in the output buffer. */
static uint8_t reply(struct i8042 *k)
{
	assert_true(status(k) & I8042_STR_OBF);
	uint8_t val = i8042_read(k, I8042_DATA_OFF);
	assert_false(status(k) & I8042_STR_OBF);
	return val;
}

static uint8_t read_ctr(struct i8042 *k)
{
	cmd(k, I8042_CMD_READ_CTR);
	return reply(k);
}

static void test_status_after_init(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	uint8_t st = status(&k);
	assert_true(st & I8042_STR_SYS);
	assert_false(st & (I8042_STR_OBF | STR_IBF));
	/* The firmware left both interfaces enabled. */
	assert_false(read_ctr(&k) & (I8042_CTR_KBDDIS | I8042_CTR_AUXDIS));
	assert_int_equal(resets, 0);
	i8042_destroy(&k);
}

static void test_self_test(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	cmd(&k, I8042_CMD_SELF_TEST);
	uint8_t st = status(&k);
	assert_true(st & I8042_STR_OBF);
	assert_true(st & I8042_STR_SYS);
	assert_true(st & I8042_STR_CMD); /* last write went to the command port */
	assert_int_equal(reply(&k), 0x55);
	cmd(&k, I8042_CMD_KBD_TEST);
	assert_int_equal(reply(&k), 0x00); /* keyboard interface: no error */
	assert_int_equal(resets, 0);
	i8042_destroy(&k);
}

static void test_command_byte(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	cmd(&k, I8042_CMD_WRITE_CTR);
	assert_false(status(&k) & I8042_STR_OBF); /* 0x60 waits for data, replies nothing */
	data(&k, 0x47);
	assert_false(status(&k) & I8042_STR_CMD); /* last write went to the data port */
	assert_int_equal(read_ctr(&k), 0x47);
	cmd(&k, I8042_CMD_WRITE_CTR);
	data(&k, 0x00);
	assert_int_equal(read_ctr(&k), 0x00);
	assert_int_equal(resets, 0);
	i8042_destroy(&k);
}

static void test_interface_enable_disable(void **state)
{
	(void)state;
	struct i8042 k;
	i8042_init(&k, NULL, NULL);
	cmd(&k, I8042_CMD_WRITE_CTR);
	data(&k, 0x45);
	cmd(&k, I8042_CMD_KBD_DISABLE);
	assert_int_equal(read_ctr(&k), 0x45 | I8042_CTR_KBDDIS);
	cmd(&k, I8042_CMD_AUX_DISABLE);
	assert_int_equal(read_ctr(&k), 0x45 | I8042_CTR_KBDDIS | I8042_CTR_AUXDIS);
	cmd(&k, I8042_CMD_KBD_ENABLE);
	assert_int_equal(read_ctr(&k), 0x45 | I8042_CTR_AUXDIS);
	cmd(&k, I8042_CMD_AUX_ENABLE);
	assert_int_equal(read_ctr(&k), 0x45);
	i8042_destroy(&k);
}

static void test_pulse_reset_command(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	cmd(&k, I8042_CMD_PULSE_RESET);
	assert_int_equal(resets, 1);
	assert_false(status(&k) & I8042_STR_OBF);
	i8042_destroy(&k);
}

static void test_output_port(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	cmd(&k, I8042_CMD_READ_OUTPORT);
	assert_true(reply(&k) & I8042_OUTPORT_RESET_N); /* the CPU is running */

	cmd(&k, I8042_CMD_WRITE_OUTPORT);
	data(&k, 0x03); /* reset line high, A20 on */
	assert_int_equal(resets, 0);
	cmd(&k, I8042_CMD_READ_OUTPORT);
	assert_int_equal(reply(&k), 0x03);

	cmd(&k, I8042_CMD_WRITE_OUTPORT);
	data(&k, 0x02); /* bit 0 low: reset */
	assert_int_equal(resets, 1);
	i8042_destroy(&k);
}

/* Data bytes without a command waiting for them go to the (absent) keyboard. */
static void test_stray_data_does_not_reset(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	data(&k, 0x00);
	assert_int_equal(resets, 0);
	/* The output-port command takes exactly one byte. */
	cmd(&k, I8042_CMD_WRITE_OUTPORT);
	data(&k, 0x03);
	data(&k, 0x00);
	assert_int_equal(resets, 0);
	/* A new command cancels the one waiting for data. */
	cmd(&k, I8042_CMD_WRITE_OUTPORT);
	cmd(&k, I8042_CMD_KBD_ENABLE);
	data(&k, 0x00);
	assert_int_equal(resets, 0);
	cmd(&k, I8042_CMD_READ_OUTPORT);
	assert_int_equal(reply(&k), 0x03);
	i8042_destroy(&k);
}

/* 0xF0-0xFF pulse the output-port bits whose command bit is 0; bit 0 is the reset line. */
static void test_pulse_commands(void **state)
{
	(void)state;
	for (unsigned c = 0xf0; c <= 0xff; c++) {
		struct i8042 k;
		unsigned resets = 0;
		i8042_init(&k, on_reset, &resets);
		cmd(&k, (uint8_t)c);
		assert_int_equal(resets, (c & 1) ? 0 : 1);
		i8042_destroy(&k);
	}
}

static void test_write_keyboard_output_buffer(void **state)
{
	(void)state;
	struct i8042 k;
	i8042_init(&k, NULL, NULL);
	cmd(&k, I8042_CMD_WRITE_KBD_OUTBUF);
	assert_false(status(&k) & I8042_STR_OBF);
	data(&k, 0x9c);
	assert_int_equal(reply(&k), 0x9c);
	/* No reset callback installed: a reset request is simply dropped. */
	cmd(&k, I8042_CMD_PULSE_RESET);
	i8042_destroy(&k);
}

static void test_trap(void **state)
{
	(void)state;
	struct i8042 k;
	unsigned resets = 0;
	i8042_init(&k, on_reset, &resets);
	uint8_t buf[4] = {I8042_CMD_PULSE_RESET, 0, 0, 0};
	assert_int_equal(i8042_trap(&k, I8042_CMD_OFF, buf, 2, true), -EINVAL);
	assert_int_equal(i8042_trap(&k, I8042_CMD_OFF, buf, 4, true), -EINVAL);
	assert_int_equal(i8042_trap(&k, I8042_DATA_OFF, buf, 2, false), -EINVAL);
	for (uint64_t off = 1; off < I8042_CMD_OFF; off++)
		assert_int_equal(i8042_trap(&k, off, buf, 1, true), -EINVAL);
	assert_int_equal(i8042_trap(&k, I8042_NR_PORTS, buf, 1, true), -EINVAL);
	assert_int_equal(resets, 0);

	assert_int_equal(i8042_trap(&k, I8042_CMD_OFF, buf, 1, false), 0);
	assert_true(buf[0] & I8042_STR_SYS);
	buf[0] = I8042_CMD_SELF_TEST;
	assert_int_equal(i8042_trap(&k, I8042_CMD_OFF, buf, 1, true), 0);
	assert_int_equal(i8042_trap(&k, I8042_DATA_OFF, buf, 1, false), 0);
	assert_int_equal(buf[0], 0x55);
	buf[0] = I8042_CMD_PULSE_RESET;
	assert_int_equal(i8042_trap(&k, I8042_CMD_OFF, buf, 1, true), 0);
	assert_int_equal(resets, 1);
	i8042_destroy(&k);
}

/* IRQ 1 as the fake interrupt controller saw it. */
struct kbd_irq {
	bool level;
	unsigned raises;
};

static int fake_irq(void *ctx, unsigned gsi, bool level)
{
	struct kbd_irq *q = ctx;
	assert_int_equal(gsi, 1);
	assert_true(level != q->level);
	q->level = level;
	q->raises += level;
	return 0;
}

static void with_keyboard(struct i8042 *k, struct kbd_irq *q)
{
	memset(q, 0, sizeof(*q));
	i8042_init(k, NULL, NULL);
	i8042_attach_keyboard(k, (struct vmm_irq){.set = fake_irq, .ctx = q, .gsi = 1});
}

/* The next keyboard byte, which must be in the output buffer (another may follow it). */
static uint8_t kbd_byte(struct i8042 *k)
{
	assert_true(status(k) & I8042_STR_OBF);
	return i8042_read(k, I8042_DATA_OFF);
}

/* Sends a byte to the keyboard and checks what it answers, byte by byte, and that no more. */
static void kbd_expect(struct i8042 *k, uint8_t sent, const uint8_t *want, unsigned n)
{
	data(k, sent);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(kbd_byte(k), want[i]);
	assert_false(status(k) & I8042_STR_OBF);
}

/* The keyless keyboard answers what SeaBIOS and Linux's atkbd send it. */
static void test_keyboard_commands(void **state)
{
	(void)state;
	struct i8042 k;
	struct kbd_irq q;
	with_keyboard(&k, &q);
	kbd_expect(&k, KBD_CMD_RESET, (const uint8_t[]){KBD_RET_ACK, KBD_RET_BAT}, 2);
	kbd_expect(&k, KBD_CMD_GETID, (const uint8_t[]){KBD_RET_ACK, KBD_ID_0, KBD_ID_1}, 3);
	kbd_expect(&k, KBD_CMD_RESET_DIS, (const uint8_t[]){KBD_RET_ACK}, 1);
	kbd_expect(&k, KBD_CMD_SETLEDS, (const uint8_t[]){KBD_RET_ACK}, 1);
	kbd_expect(&k, 0x07, (const uint8_t[]){KBD_RET_ACK}, 1); /* the LEDs, not a command */
	kbd_expect(&k, KBD_CMD_SSCANSET, (const uint8_t[]){KBD_RET_ACK}, 1);
	kbd_expect(&k, 0x01, (const uint8_t[]){KBD_RET_ACK}, 1);
	kbd_expect(&k, KBD_CMD_SSCANSET, (const uint8_t[]){KBD_RET_ACK}, 1);
	kbd_expect(&k, 0x00, (const uint8_t[]){KBD_RET_ACK, 0x01}, 2); /* which set: 1 */
	kbd_expect(&k, KBD_CMD_ECHO, (const uint8_t[]){KBD_CMD_ECHO}, 1);
	kbd_expect(&k, 0x42, (const uint8_t[]){KBD_RET_RESEND}, 1);
	kbd_expect(&k, KBD_CMD_ENABLE, (const uint8_t[]){KBD_RET_ACK}, 1);
	assert_false(status(&k) & I8042_STR_OBF);
	/* Without a keyboard the same bytes go nowhere. */
	struct i8042 bare;
	i8042_init(&bare, NULL, NULL);
	data(&bare, KBD_CMD_RESET);
	assert_false(status(&bare) & I8042_STR_OBF);
	i8042_destroy(&bare);
	i8042_destroy(&k);
}

/* The keyboard's bytes wait while the command byte disables its interface, and raise IRQ 1
 * only while the command byte enables it; a controller reply never does. */
static void test_keyboard_interface_and_irq(void **state)
{
	(void)state;
	struct i8042 k;
	struct kbd_irq q;
	with_keyboard(&k, &q);
	cmd(&k, I8042_CMD_WRITE_CTR);
	data(&k, I8042_CTR_KBDDIS | I8042_CTR_KBDINT);
	data(&k, KBD_CMD_RESET);
	assert_false(status(&k) & I8042_STR_OBF);
	cmd(&k, I8042_CMD_KBD_ENABLE);
	assert_true(q.level);
	assert_int_equal(kbd_byte(&k), KBD_RET_ACK);
	assert_true(q.level); /* the next byte moved in: an edge of its own */
	assert_int_equal(q.raises, 2);
	assert_int_equal(reply(&k), KBD_RET_BAT);
	assert_false(q.level);
	cmd(&k, I8042_CMD_SELF_TEST);
	assert_false(q.level);
	assert_int_equal(reply(&k), 0x55);
	/* Interrupts off: the byte is there to poll, the line stays low. */
	cmd(&k, I8042_CMD_WRITE_CTR);
	data(&k, 0);
	data(&k, KBD_CMD_ECHO);
	assert_false(q.level);
	assert_int_equal(reply(&k), KBD_CMD_ECHO);
	assert_int_equal(q.raises, 2);
	i8042_destroy(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyboard_commands),
		cmocka_unit_test(test_keyboard_interface_and_irq),
		cmocka_unit_test(test_status_after_init),
		cmocka_unit_test(test_self_test),
		cmocka_unit_test(test_command_byte),
		cmocka_unit_test(test_interface_enable_disable),
		cmocka_unit_test(test_pulse_reset_command),
		cmocka_unit_test(test_output_port),
		cmocka_unit_test(test_stray_data_does_not_reset),
		cmocka_unit_test(test_pulse_commands),
		cmocka_unit_test(test_write_keyboard_output_buffer),
		cmocka_unit_test(test_trap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
