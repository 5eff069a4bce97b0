/* SPDX-License-Identifier: MIT */
/* The legacy 8259A pair and the IMCR: kept out of the way in symmetric I/O mode. */
#ifndef G_DRIVERS_PIC_H
#define G_DRIVERS_PIC_H

/*
 * Masks every line of both 8259s (OCW1). They are not re-initialised: that would unmask them
 * (ICW1 clears the mask register) while user mode, which cannot clear IF, is running. Masked, they
 * raise nothing, and LINT0 is masked as well (g_lapic_init). The ring-0 entry has already done
 * this once for the BSP; it is repeated here so the driver states it.
 */
void g_pic_mask_all(void);

/* MP spec 3.6.2.1: in PIC mode the IMCR routes INTR to the BSP; this switches it so interrupts
 * reach the local APICs. Only call when the MP floating pointer says an IMCR is present. */
void g_imcr_select_apic(void);

#endif
