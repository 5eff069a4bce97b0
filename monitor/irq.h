/* SPDX-License-Identifier: MIT */
/*
 * An interrupt line as a device sees it: a callback, so device models stay free of KVM and can
 * be driven by unit tests with a fake.
 */
#ifndef VMMON_IRQ_H
#define VMMON_IRQ_H

#include <stdbool.h>

struct vmm_irq {
	int (*set)(void *ctx, unsigned gsi, bool level);
	void *ctx;
	unsigned gsi;
};

static inline int vmm_irq_set(const struct vmm_irq *irq, bool level)
{
	return irq->set ? irq->set(irq->ctx, irq->gsi, level) : 0;
}

#endif
