/* SPDX-License-Identifier: MIT */
/*
 * The platform contract between vmmon and guests: fixed ports and addresses that vmmon emulates
 * and the guest image relies on. Each matches what QEMU's pc machine offers at the same place, so
 * one guest image runs on both. Freestanding.
 */
#ifndef VMMON_INCLUDE_GUEST_ABI_H
#define VMMON_INCLUDE_GUEST_ABI_H

/* QEMU's isa-debug-exit (iobase=0xf4, iosize=4): writing V ends the VM. vmmon exits with status
 * V; QEMU with (V << 1) | 1. */
#define GUEST_DEBUG_EXIT_PORT 0xf4
#define GUEST_DEBUG_EXIT_SIZE 4

/* 16550A UART on COM1. */
#define GUEST_COM1_PORT 0x3f8
#define GUEST_COM1_IRQ	4

/* CMOS RTC index/data ports (its periodic interrupt on ISA IRQ 8); i8042 data and command/status
 * ports. */
#define GUEST_RTC_PORT	      0x70
#define GUEST_RTC_IRQ	      8
#define GUEST_I8042_DATA_PORT 0x60
#define GUEST_I8042_CMD_PORT  0x64
#define GUEST_I8042_CMD_RESET 0xfe

/* PCI configuration mechanism #1. */
#define GUEST_PCI_CONFIG_ADDRESS 0xcf8
#define GUEST_PCI_CONFIG_DATA	 0xcfc

/* Interrupt controllers (in-kernel under KVM). */
#define GUEST_LAPIC_BASE  0xfee00000u
#define GUEST_IOAPIC_BASE 0xfec00000u

/* The 32-bit hole below 4 GiB: PCI MMIO, I/O APIC, local APIC, firmware. RAM above 3 GiB is
 * placed from 4 GiB on. */
#define GUEST_MMIO_HOLE_START 0xc0000000ull
#define GUEST_MMIO_HOLE_END   0x100000000ull

#endif
