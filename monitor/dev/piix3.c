/* SPDX-License-Identifier: MIT */
#include "piix3.h"

#include <errno.h>
#include <string.h>

static unsigned pirq_of(unsigned source)
{
	return (source + PIIX3_PIRQS - 1) % PIIX3_PIRQS; /* (slot - 1) & 3 */
}

/* The ISA IRQ a route register names, or 0 when it routes nowhere. */
static unsigned target(uint8_t route)
{
	unsigned irq = route & PIIX3_PIRQ_IRQ_MASK;
	return !(route & PIIX3_PIRQ_DISABLED) && (PIIX3_PIRQ_IRQS & (1u << irq)) ? irq : 0;
}

/* Drives every ISA IRQ whose level changed (lock held). */
static int update(struct piix3 *p)
{
	uint16_t want = 0;
	for (unsigned i = 0; i < PIIX3_PIRQS; i++)
		if (p->source[i] && target(p->route[i]))
			want |= (uint16_t)(1u << target(p->route[i]));
	uint16_t changed = want ^ p->driven;
	int ret = 0;
	for (unsigned irq = 0; irq < 16; irq++)
		if ((changed & (1u << irq)) && p->set_irq) {
			int r = p->set_irq(p->ctx, irq, want & (1u << irq));
			ret = ret ? ret : r;
		}
	p->driven = want;
	return ret;
}

/* PCI host lock held: a route register changed. */
static void config_written(struct pci_dev *d, unsigned off, unsigned len)
{
	struct piix3 *p = d->opaque;
	if (off + len <= PIIX3_PIRQRC || off >= PIIX3_PIRQRC + PIIX3_PIRQS)
		return;
	pthread_mutex_lock(&p->lock);
	memcpy(p->route, &d->cfg[PIIX3_PIRQRC], PIIX3_PIRQS);
	update(p);
	pthread_mutex_unlock(&p->lock);
}

void piix3_init(struct piix3 *p, int (*set_irq)(void *, unsigned, bool), void (*reset)(void *),
		void *ctx)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->set_irq = set_irq;
	p->reset = reset;
	p->ctx = ctx;
	struct pci_dev *d = &p->pci;
	pci_dev_init(d, PIIX3_VENDOR, PIIX3_DEVICE, PIIX3_CLASS, 0);
	/* A bridge that is always on: I/O, memory and bus mastering are fixed. */
	memset(&d->wmask[PCI_COMMAND], 0, 2);
	uint16_t command = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	memcpy(&d->cfg[PCI_COMMAND], &command, sizeof(command));
	memset(&d->cfg[PIIX3_PIRQRC], PIIX3_PIRQ_DISABLED, PIIX3_PIRQS);
	memset(&d->wmask[PIIX3_PIRQRC], PIIX3_PIRQ_DISABLED | PIIX3_PIRQ_IRQ_MASK, PIIX3_PIRQS);
	memset(p->route, PIIX3_PIRQ_DISABLED, PIIX3_PIRQS);
	d->config_written = config_written;
	d->opaque = p;
}

void piix3_destroy(struct piix3 *p)
{
	pthread_mutex_destroy(&p->lock);
}

int piix3_intx(struct piix3 *p, unsigned source, bool level)
{
	if (source >= PIIX3_INTX_SOURCES)
		return -EINVAL;
	unsigned pirq = pirq_of(source);
	uint8_t bit = (uint8_t)(1u << source);
	pthread_mutex_lock(&p->lock);
	p->source[pirq] = level ? p->source[pirq] | bit : p->source[pirq] & (uint8_t)~bit;
	int ret = update(p);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int piix3_port92_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct piix3 *p = dev;
	if (off != 0 || len != 1)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	bool reset = false;
	if (is_write) {
		reset = (data[0] & PIIX3_PORT92_RESET) && !(p->port92 & PIIX3_PORT92_RESET);
		p->port92 = data[0] & (PIIX3_PORT92_RESET | PIIX3_PORT92_A20);
	} else {
		data[0] = p->port92;
	}
	pthread_mutex_unlock(&p->lock);
	if (reset && p->reset)
		p->reset(p->ctx);
	return 0;
}
