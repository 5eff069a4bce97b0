/* SPDX-License-Identifier: MIT */
#include "regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#define CR0_PE		    0x1ull
#define CR0_ET		    0x10ull
#define CR0_PG		    0x80000000ull
#define CR4_PAE		    0x20ull
#define EFER_LME	    0x100ull
#define EFER_LMA	    0x400ull
#define RFLAGS_RESERVED	    0x2ull

#define SEG_TYPE_CODE_XRA   0xb /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA   0x3 /* read/write, accessed */
#define SEG_TYPE_TSS32_BUSY 0xb
#define SEG_TYPE_LDT	    0x2
#define CR0_NW		    0x20000000ull
#define CR0_CD		    0x40000000ull
#define RESET_IP	    0xfff0

static struct kvm_segment flat(uint16_t selector, uint8_t type, bool long_mode)
{
	return (struct kvm_segment){.base = 0,
				    .limit = 0xffffffff,
				    .selector = selector,
				    .type = type,
				    .present = 1,
				    .s = 1,
				    .db = long_mode && type == SEG_TYPE_CODE_XRA ? 0 : 1,
				    .l = long_mode && type == SEG_TYPE_CODE_XRA,
				    .g = 1};
}

/* PVH: 32-bit protected mode, paging off, flat segments; GDTR undefined (the guest loads its
 * own); TR a 32-bit TSS of base 0, limit 0x67 (xen docs/misc/pvh.pandoc). */
static void pvh_sregs(struct kvm_sregs *s)
{
	s->cs = flat(0x10, SEG_TYPE_CODE_XRA, false);
	s->ds = s->es = s->fs = s->gs = s->ss = flat(0x18, SEG_TYPE_DATA_RWA, false);
	s->tr = (struct kvm_segment){.limit = 0x67, .type = SEG_TYPE_TSS32_BUSY, .present = 1};
	s->cr0 = CR0_PE | CR0_ET;
	s->cr4 = 0;
	s->efer = 0;
}

/* Linux 64-bit entry: long mode, paging on with the loader's identity map, __BOOT_CS and
 * __BOOT_DS from the loader's GDT. */
static void linux64_sregs(struct kvm_sregs *s, const struct vmm_boot_entry *e)
{
	s->cs = flat(0x10, SEG_TYPE_CODE_XRA, true);
	s->ds = s->es = s->fs = s->gs = s->ss = flat(0x18, SEG_TYPE_DATA_RWA, true);
	s->gdt.base = e->gdt_base;
	s->gdt.limit = e->gdt_limit;
	s->cr3 = e->cr3;
	s->cr4 = CR4_PAE;
	s->cr0 = CR0_PE | CR0_ET | CR0_PG;
	s->efer = EFER_LME | EFER_LMA;
}

/* A real-mode segment of 64 KiB, as after reset (SDM vol. 3, 9.1.1, table 9-1). */
static struct kvm_segment real(uint16_t selector, uint64_t base, uint8_t type, bool s)
{
	return (struct kvm_segment){.base = base,
				    .limit = 0xffff,
				    .selector = selector,
				    .type = type,
				    .present = 1,
				    .s = s};
}

/* The state after RESET: CS F000 with base FFFF0000 (so the first fetch is at 4 GiB - 16, in
 * the firmware's ROM), other segments and the descriptor tables at 0 with 64 KiB limits, CR0
 * with CD, NW and ET, no paging, no long mode. */
static void reset_sregs(struct kvm_sregs *s)
{
	s->cs = real(0xf000, 0xffff0000, SEG_TYPE_CODE_XRA, true);
	s->ds = s->es = s->fs = s->gs = s->ss = real(0, 0, SEG_TYPE_DATA_RWA, true);
	s->tr = real(0, 0, SEG_TYPE_TSS32_BUSY, false); /* as KVM's own reset state */
	s->ldt = real(0, 0, SEG_TYPE_LDT, false);
	s->gdt = (struct kvm_dtable){.limit = 0xffff};
	s->idt = (struct kvm_dtable){.limit = 0xffff};
	s->cr0 = CR0_CD | CR0_NW | CR0_ET;
	s->cr2 = s->cr3 = s->cr4 = 0;
	s->efer = 0;
}

int vmm_boot_set_regs(int vcpu_fd, const struct vmm_boot_entry *entry)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	struct kvm_regs regs = {.rip = entry->rip, .rflags = RFLAGS_RESERVED};
	if (entry->mode == VMM_BOOT_RESET) {
		reset_sregs(&sregs);
		regs.rip = RESET_IP;
		regs.rdx = entry->arg;
	} else if (entry->mode == VMM_BOOT_PVH) {
		pvh_sregs(&sregs);
		regs.rbx = entry->arg;
	} else {
		linux64_sregs(&sregs, entry);
		regs.rsi = entry->arg;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
