/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int vmm_kvm_stats_open(struct vmm_kvm_stats *s, int vcpu_fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0)
		return -errno;
	struct kvm_stats_header h;
	if (pread(s->fd, &h, sizeof(h), 0) != sizeof(h))
		goto fail;
	s->num_desc = h.num_desc;
	s->name_size = h.name_size;
	s->desc_offset = h.desc_offset;
	s->data_offset = h.data_offset;
	size_t size = (sizeof(struct kvm_stats_desc) + h.name_size) * h.num_desc;
	s->desc = malloc(size);
	if (!s->desc || pread(s->fd, s->desc, size, (off_t)h.desc_offset) != (ssize_t)size)
		goto fail;
	return 0;
fail:
	vmm_kvm_stats_close(s);
	return -EIO;
}

void vmm_kvm_stats_close(struct vmm_kvm_stats *s)
{
	free(s->desc);
	s->desc = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

uint64_t vmm_kvm_stat(const struct vmm_kvm_stats *s, const char *name)
{
	if (!s->desc)
		return 0;
	size_t step = sizeof(struct kvm_stats_desc) + s->name_size;
	for (uint32_t i = 0; i < s->num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(s->desc + i * step);
		if (d->size != 1 || strncmp(d->name, name, s->name_size) != 0)
			continue;
		uint64_t v = 0;
		if (pread(s->fd, &v, sizeof(v), (off_t)(s->data_offset + d->offset)) != sizeof(v))
			return 0;
		return v;
	}
	return 0;
}
