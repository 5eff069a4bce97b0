/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI finds its CPUs, its
 * I/O APIC and the routing of ISA interrupts. vmmon writes them (monitor/mptable.c); the guest
 * reads them (guest-drivers/drivers/mp.c), and so does SeaBIOS's table under QEMU. Freestanding.
 */
#ifndef VMMON_INCLUDE_MPTABLE_H
#define VMMON_INCLUDE_MPTABLE_H

#include <stdint.h>

#define MPF_SIGNATURE "_MP_"
#define MPC_SIGNATURE "PCMP"
#define MP_SPEC_REV   4 /* version 1.4 */

/* Floating pointer structure: 16-byte aligned, found by scanning the EBDA's first KiB, the
 * last KiB of base memory, or the BIOS area 0xF0000-0xFFFFF. */
struct mpf_intel {
	char signature[4];
	uint32_t physptr; /* address of the configuration table */
	uint8_t length;	  /* in 16-byte units: 1 */
	uint8_t specification;
	uint8_t checksum; /* all 16 bytes sum to 0 */
	uint8_t feature1; /* 0: a configuration table is present */
	uint8_t feature2; /* bit 7: IMCR present (PIC mode) */
	uint8_t feature3[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf_intel) == 16, "mpf_intel layout");

struct mpc_table {
	char signature[4];
	uint16_t length; /* base table, header included */
	uint8_t spec;
	uint8_t checksum; /* the base table sums to 0 */
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t entry_count;
	uint32_t lapic; /* local APIC address */
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_table) == 44, "mpc_table layout");

enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

#define MPC_CPU_ENABLED	      1
#define MPC_CPU_BOOTPROCESSOR 2

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;  /* CPUID(1).EAX */
	uint32_t featureflag; /* CPUID(1).EDX */
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc_cpu layout");

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6]; /* "PCI   ", "ISA   " */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "mpc_bus layout");

#define MPC_APIC_USABLE 1

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "mpc_ioapic layout");

enum mp_irq_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

/* irqflag: bits 1:0 polarity, 3:2 trigger; 0 means "conforms to the bus". */
#define MP_IRQPOL_DEFAULT     0x0
#define MP_IRQPOL_ACTIVE_HIGH 0x1
#define MP_IRQPOL_ACTIVE_LOW  0x3
#define MP_IRQTRIG_DEFAULT    0x0
#define MP_IRQTRIG_EDGE	      0x4
#define MP_IRQTRIG_LEVEL      0xc

/* Shared by MP_INTSRC (dst is an I/O APIC) and MP_LINTSRC (dst is a local APIC, 0xff = all). */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intsrc) == 8, "mpc_intsrc layout");

#endif
