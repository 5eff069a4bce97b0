// SPDX-License-Identifier: MIT
#include "drivers/pic.h"
#include "lib/io.h"

#define PIC1_DATA   0x21
#define PIC2_DATA   0xa1

#define IMCR_ADDR   0x22
#define IMCR_DATA   0x23
#define IMCR_SELECT 0x70
#define IMCR_APIC   0x01

void g_pic_mask_all(void)
{
	g_outb(PIC1_DATA, 0xff);
	g_outb(PIC2_DATA, 0xff);
}

void g_imcr_select_apic(void)
{
	g_outb(IMCR_ADDR, IMCR_SELECT);
	g_outb(IMCR_DATA, IMCR_APIC);
}
