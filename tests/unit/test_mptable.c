/* SPDX-License-Identifier: MIT */
/* MP table: checksums, processors, buses, I/O APIC and interrupt routing entries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mp.h"
#include "mptable.h"

#define GPA 0xf0000u

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static struct vmm_mp_config cfg(unsigned cpus)
{
	return (struct vmm_mp_config){.nr_cpus = cpus,
				      .cpu_signature = 0x806f8,
				      .cpu_features = 0x178bfbff,
				      .lapic_version = 0x14,
				      .ioapic_id = (uint8_t)cpus,
				      .ioapic_version = 0x11,
				      .ioapic_addr = 0xfec00000,
				      .lapic_addr = 0xfee00000};
}

static void check_table(unsigned cpus)
{
	static uint8_t buf[0x10000];
	struct vmm_mp_config c = cfg(cpus);
	long n = vmm_mptable_build(buf, sizeof(buf), GPA, &c);
	assert_true(n > 0);
	assert_int_equal((size_t)n, vmm_mptable_size(&c));
	struct mpf_intel mpf;
	memcpy(&mpf, buf, sizeof(mpf));
	assert_memory_equal(mpf.signature, "_MP_", 4);
	assert_int_equal(sum(buf, 16), 0);
	assert_int_equal(mpf.length, 1);
	assert_int_equal(mpf.specification, 4);
	assert_true(mpf.physptr >= GPA && mpf.physptr < GPA + n);
	const uint8_t *t = buf + (mpf.physptr - GPA);
	struct mpc_table hdr;
	memcpy(&hdr, t, sizeof(hdr));
	assert_memory_equal(hdr.signature, "PCMP", 4);
	assert_int_equal(sum(t, hdr.length), 0);
	assert_int_equal(hdr.lapic, 0xfee00000);
	/* Walk the entries and count each kind. */
	const uint8_t *p = t + sizeof(hdr);
	unsigned cpu = 0, bsp = 0, buses = 0, ioapics = 0, ints = 0, lints = 0;
	int isa = -1;
	for (unsigned i = 0; i < hdr.entry_count; i++) {
		switch (p[0]) {
		case MP_PROCESSOR: {
			struct mpc_cpu e;
			memcpy(&e, p, sizeof(e));
			assert_int_equal(e.apicid, cpu); /* APIC ID = vCPU index */
			assert_true(e.cpuflag & MPC_CPU_ENABLED);
			bsp += !!(e.cpuflag & MPC_CPU_BOOTPROCESSOR);
			assert_int_equal(e.cpufeature, 0x806f8);
			cpu++;
			p += sizeof(e);
			break;
		}
		case MP_BUS: {
			struct mpc_bus e;
			memcpy(&e, p, sizeof(e));
			if (memcmp(e.bustype, "ISA   ", 6) == 0)
				isa = e.busid;
			buses++;
			p += sizeof(e);
			break;
		}
		case MP_IOAPIC: {
			struct mpc_ioapic e;
			memcpy(&e, p, sizeof(e));
			assert_int_equal(e.apicid, cpus);
			assert_int_equal(e.apicaddr, 0xfec00000);
			assert_true(e.flags & MPC_APIC_USABLE);
			ioapics++;
			p += sizeof(e);
			break;
		}
		case MP_INTSRC: {
			struct mpc_intsrc e;
			memcpy(&e, p, sizeof(e));
			assert_int_equal(e.srcbus, isa);	 /* ISA bus, declared earlier */
			assert_int_equal(e.dstirq, e.srcbusirq); /* identity: KVM's routing */
			assert_int_equal(e.dstapic, cpus);
			ints++;
			p += sizeof(e);
			break;
		}
		case MP_LINTSRC:
			lints++;
			p += sizeof(struct mpc_intsrc);
			break;
		default:
			fail_msg("unknown entry type %u", p[0]);
		}
	}
	assert_int_equal(p - t, hdr.length);
	assert_int_equal(cpu, cpus);
	assert_int_equal(bsp, 1);
	assert_int_equal(buses, 2);
	assert_int_equal(ioapics, 1);
	assert_int_equal(ints, 16);
	assert_int_equal(lints, 2);
}

static void one_cpu(void **state)
{
	(void)state;
	check_table(1);
}

static void many_cpus(void **state)
{
	(void)state;
	check_table(4);
	check_table(VMM_MP_MAX_CPUS);
}

static void refusals(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct vmm_mp_config c = cfg(2);
	assert_int_equal(vmm_mptable_build(buf, sizeof(buf), GPA, &c), -ENOSPC);
	c.nr_cpus = 0;
	assert_int_equal(vmm_mptable_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	c = cfg(VMM_MP_MAX_CPUS + 1);
	assert_int_equal(vmm_mptable_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	c = cfg(4);
	c.ioapic_id = 2; /* collides with a CPU's APIC ID */
	assert_int_equal(vmm_mptable_build(buf, sizeof(buf), GPA, &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_cpu),
		cmocka_unit_test(many_cpus),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
