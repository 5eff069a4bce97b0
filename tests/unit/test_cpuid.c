/* SPDX-License-Identifier: MIT */
/* CPUID topology: APIC IDs, logical counts and the 0xB levels follow --cpus; the hypervisor
 * timing leaf 0x40000010 carries the TSC's rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cpuid.h"

static void fake_host(struct vmm_cpuid *c)
{
	memset(c, 0, sizeof(*c));
	struct kvm_cpuid_entry2 e[] = {
		{.function = 0, .eax = 0x1f},
		{.function = 1, .eax = 0x806f8, .ebx = 0x12340800, .edx = 0x178bfbff},
		{.function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121},
		{.function = 4, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x122},
		{.function = 4, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0},
		{.function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1},
		{.function = 0xb, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 7},
		{.function = 0xb, .index = 2, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX},
	};
	memcpy(c->entries, e, sizeof(e));
	c->hdr.nent = sizeof(e) / sizeof(e[0]);
}

static void single_cpu(void **state)
{
	(void)state;
	static struct vmm_cpuid c;
	fake_host(&c);
	vmm_cpuid_set_topology(&c, 0, 1);
	struct kvm_cpuid_entry2 *l1 = vmm_cpuid_find(&c, 1, 0);
	assert_int_equal(l1->ebx >> 24, 0);
	assert_int_equal((l1->ebx >> 16) & 0xff, 0);
	assert_int_equal(l1->ebx & 0xffff, 0x0800); /* brand/CLFLUSH bits kept */
	assert_false(l1->edx & (1u << 28));	    /* no HTT */
	assert_int_equal(l1->eax, 0x806f8);
	assert_int_equal(vmm_cpuid_find(&c, 4, 0)->eax >> 26, 0);
	assert_int_equal(vmm_cpuid_find(&c, 0xb, 1)->ebx, 1);
}

static void four_cpus(void **state)
{
	(void)state;
	static struct vmm_cpuid c;
	for (unsigned cpu = 0; cpu < 4; cpu++) {
		fake_host(&c);
		vmm_cpuid_set_topology(&c, cpu, 4);
		struct kvm_cpuid_entry2 *l1 = vmm_cpuid_find(&c, 1, 0);
		assert_int_equal(l1->ebx >> 24, cpu);
		assert_int_equal((l1->ebx >> 16) & 0xff, 4);
		assert_true(l1->edx & (1u << 28));
		assert_int_equal(vmm_cpuid_find(&c, 4, 0)->eax >> 26, 3);
		assert_int_equal(vmm_cpuid_find(&c, 4, 1)->eax >> 26, 3);
		assert_int_equal(vmm_cpuid_find(&c, 4, 1)->eax & 0x3fff, 0x122);
		assert_int_equal(vmm_cpuid_find(&c, 4, 2)->eax, 0); /* no cache: untouched */
		struct kvm_cpuid_entry2 *smt = vmm_cpuid_find(&c, 0xb, 0);
		struct kvm_cpuid_entry2 *core = vmm_cpuid_find(&c, 0xb, 1);
		struct kvm_cpuid_entry2 *end = vmm_cpuid_find(&c, 0xb, 2);
		assert_int_equal(smt->ebx, 1);
		assert_int_equal((smt->ecx >> 8) & 0xff, 1); /* SMT */
		assert_int_equal(core->eax, 2);		     /* 4 cores: 2 bits */
		assert_int_equal(core->ebx, 4);
		assert_int_equal((core->ecx >> 8) & 0xff, 2); /* core */
		assert_int_equal((end->ecx >> 8) & 0xff, 0);  /* end of levels */
		assert_int_equal(smt->edx, cpu);
		assert_int_equal(core->edx, cpu);
	}
}

static void odd_count(void **state)
{
	(void)state;
	static struct vmm_cpuid c;
	fake_host(&c);
	vmm_cpuid_set_topology(&c, 2, 3);
	assert_int_equal(vmm_cpuid_find(&c, 0xb, 1)->eax, 2); /* 3 needs 2 bits */
	assert_null(vmm_cpuid_find(&c, 0x1f, 0));
}

/* The timing leaf is added under KVM's base leaf (whose maximum is raised to reach it), set
 * in place when present, and not made up without a base leaf. */
static void timing_leaf(void **state)
{
	(void)state;
	static struct vmm_cpuid c;
	fake_host(&c);
	vmm_cpuid_set_timing(&c, 2400000);
	assert_null(vmm_cpuid_find(&c, 0x40000010, 0));

	unsigned n = c.hdr.nent;
	c.entries[c.hdr.nent++] = (struct kvm_cpuid_entry2){
		.function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b};
	vmm_cpuid_set_timing(&c, 2400000);
	assert_int_equal(c.hdr.nent, n + 2);
	assert_int_equal(vmm_cpuid_find(&c, 0x40000000, 0)->eax, 0x40000010);
	struct kvm_cpuid_entry2 *t = vmm_cpuid_find(&c, 0x40000010, 0);
	assert_non_null(t);
	assert_int_equal(t->eax, 2400000);
	assert_int_equal(t->ebx, 1000000);

	vmm_cpuid_set_timing(&c, 3000000); /* again: the same entry, no second one */
	assert_int_equal(c.hdr.nent, n + 2);
	assert_int_equal(vmm_cpuid_find(&c, 0x40000010, 0)->eax, 3000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_cpu),
		cmocka_unit_test(four_cpus),
		cmocka_unit_test(odd_count),
		cmocka_unit_test(timing_leaf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
