// SPDX-License-Identifier: MIT
#include "drivers/lapic.h"
#include "drivers/smp.h"
#include "drivers/tsc.h"
#include "kernel/kcpu.h"
#include "lib/atomic.h"
#include "lib/errno.h"
#include "lib/io.h"
#include "lib/string.h"
#include "runtime/cpu.h"

#define INIT_DELAY_US	 10000 /* MP spec B.4: 10 ms after INIT */
#define STARTUP_DELAY_US 200   /* and 200 us after each STARTUP */

int g_smp_install_trampoline(void)
{
	size_t len = g_trampoline_end - g_trampoline_start;

	if (len > 4096)
		return -E2BIG;
	memcpy((void *)G_TRAMPOLINE_ADDR, g_trampoline_start, len);
	return 0;
}

static int send_init_sipi_sipi(unsigned int apic_id)
{
	uint32_t sipi = G_LAPIC_ICR_STARTUP | (G_TRAMPOLINE_ADDR >> 12);
	int rc;

	rc = g_lapic_send_ipi(apic_id, G_LAPIC_ICR_INIT | G_LAPIC_ICR_LEVEL | G_LAPIC_ICR_ASSERT);
	if (rc)
		return rc;
	/* De-assert: needed by the discrete 82489DX only, ignored by integrated APICs. */
	rc = g_lapic_send_ipi(apic_id, G_LAPIC_ICR_INIT | G_LAPIC_ICR_LEVEL);
	if (rc)
		return rc;
	g_udelay(INIT_DELAY_US);
	for (int i = 0; i < 2; i++) {
		rc = g_lapic_send_ipi(apic_id, sipi);
		if (rc)
			return rc;
		g_udelay(STARTUP_DELAY_US);
	}
	return 0;
}

int g_smp_start_ap(unsigned int index, unsigned int apic_id)
{
	struct g_cpu *cpu;
	uint64_t deadline;

	if (!index || index >= G_MAX_CPUS || !g_tsc_khz())
		return -EINVAL;
	cpu = &g_ustack[index].cpu;
	*cpu = (struct g_cpu){.index = index, .apic_id = apic_id, .kcpu = &g_kcpu[index]};
	/* Release: the AP's ring-0 entry reads g_ap_boot_cpu and its runtime reads *cpu; both
	 * happen after the IPIs below, which are sent by MMIO writes ordered after these stores. */
	g_store_release(&g_ap_boot_cpu, index);
	if (send_init_sipi_sipi(apic_id))
		return -EIO;
	deadline = g_tsc_deadline(G_SMP_TIMEOUT_US);
	/* Acquire: pairs with the release in g_smp_ap_online, so whatever the AP did before (its
	 * console output included) is complete when we go on. */
	while (!g_load_acquire(&cpu->online)) {
		if (g_tsc_passed(deadline))
			return -ETIMEDOUT;
		g_cpu_relax();
	}
	return 0;
}

void g_smp_ap_online(void)
{
	g_store_release(&g_this_cpu()->online, 1);
}
