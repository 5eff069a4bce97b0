/* SPDX-License-Identifier: MIT */
/*
 * Application processor start-up, from CPL3 on the BSP: INIT-SIPI-SIPI through the LAPIC ICR
 * with the MP spec's delays (appendix B.4), one AP at a time so that their output comes in a
 * fixed order.
 */
#ifndef G_DRIVERS_SMP_H
#define G_DRIVERS_SMP_H

/* Copies the real-mode trampoline to G_TRAMPOLINE_ADDR. Call after the boot information has
 * been copied out of low memory. */
int g_smp_install_trampoline(void);

/*
 * Starts the AP with this APIC ID as CPU index and waits (up to G_SMP_TIMEOUT_US) until it runs
 * at CPL3 and has called g_smp_ap_online(). Needs a calibrated TSC.
 * Returns 0, -EINVAL, -EIO (an IPI was not sent) or -ETIMEDOUT.
 */
int g_smp_start_ap(unsigned int index, unsigned int apic_id);

/* Called by the AP's runtime once it is up. */
void g_smp_ap_online(void);

#define G_SMP_TIMEOUT_US 2000000

#endif
