/* SPDX-License-Identifier: MIT */
#include "msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int msix_init(struct msix *m, unsigned nvec, const struct msix_ops *ops, void *ops_ctx)
{
	memset(m, 0, sizeof(*m));
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return -EINVAL;
	m->nvec = nvec;
	m->ops = ops;
	m->ops_ctx = ops_ctx;
	for (unsigned v = 0; v < nvec; v++)
		m->vec[v] = (struct msix_vector){.ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT, .efd = -1};
	for (unsigned v = 0; v < nvec; v++) {
		m->vec[v].gsi = ops->gsi_alloc(ops_ctx);
		m->vec[v].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->vec[v].gsi < 0 || m->vec[v].efd < 0)
			return m->vec[v].gsi < 0 ? m->vec[v].gsi : -errno;
	}
	return 0;
}

void msix_destroy(struct msix *m)
{
	for (unsigned v = 0; v < m->nvec; v++) {
		if (m->vec[v].attached)
			m->ops->irqfd(m->ops_ctx, m->vec[v].efd, (unsigned)m->vec[v].gsi, false);
		if (m->vec[v].efd >= 0)
			close(m->vec[v].efd);
	}
	m->nvec = 0;
}

/* Brings vector v's route and irqfd in line with the table and the capability. */
static void update(struct msix *m, unsigned v)
{
	struct msix_vector *e = &m->vec[v];
	bool live = m->enabled && !m->masked && !(e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	if (live && m->ops->route_set(m->ops_ctx, (unsigned)e->gsi, addr, e->data))
		m->errors++;
	if (live != e->attached) {
		if (m->ops->irqfd(m->ops_ctx, e->efd, (unsigned)e->gsi, live))
			m->errors++;
		else
			e->attached = live;
	}
}

void msix_set_control(struct msix *m, uint16_t control)
{
	m->enabled = control & PCI_MSIX_FLAGS_ENABLE;
	m->masked = control & PCI_MSIX_FLAGS_MASKALL;
	for (unsigned v = 0; v < m->nvec; v++)
		update(m, v);
}

void msix_table_access(struct msix *m, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	/* Dword (or a qword spanning two dwords) aligned accesses, as the spec requires. */
	if ((len != 4 && len != 8) || (off & 3) || off + len > MSIX_TABLE_SIZE(m->nvec)) {
		if (!write)
			memset(data, 0xff, len);
		m->errors++;
		return;
	}
	for (unsigned done = 0; done < len; done += 4) {
		unsigned v = (unsigned)((off + done) / 16), field = (unsigned)((off + done) % 16);
		uint32_t *reg = field == PCI_MSIX_ENTRY_LOWER_ADDR   ? &m->vec[v].addr_lo
				: field == PCI_MSIX_ENTRY_UPPER_ADDR ? &m->vec[v].addr_hi
				: field == PCI_MSIX_ENTRY_DATA	     ? &m->vec[v].data
								     : &m->vec[v].ctrl;
		if (!write) {
			memcpy(data + done, reg, 4);
			continue;
		}
		uint32_t val;
		memcpy(&val, data + done, 4);
		if (field == PCI_MSIX_ENTRY_VECTOR_CTRL)
			val &= PCI_MSIX_ENTRY_CTRL_MASKBIT; /* the other bits are reserved */
		*reg = val;
		update(m, v);
	}
}

/* A masked vector is pending if its eventfd holds signals. */
static bool pending(const struct msix_vector *e)
{
	if (e->attached)
		return false;
	struct pollfd p = {.fd = e->efd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned len)
{
	if (off + len > MSIX_PBA_SIZE(m->nvec)) {
		memset(data, 0xff, len);
		m->errors++;
		return;
	}
	memset(data, 0, len);
	for (unsigned i = 0; i < len * 8; i++) {
		unsigned v = (unsigned)(off * 8) + i;
		if (v < m->nvec && pending(&m->vec[v]))
			data[i / 8] |= (uint8_t)(1u << (i % 8));
	}
}

bool msix_signal(struct msix *m, unsigned v)
{
	if (v >= m->nvec)
		return false;
	uint64_t one = 1;
	if (write(m->vec[v].efd, &one, sizeof(one)) < 0)
		m->errors++; /* saturated: the interrupt is pending anyway */
	m->signals++;
	return true;
}
