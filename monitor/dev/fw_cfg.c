/* SPDX-License-Identifier: MIT */
#include "fw_cfg.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIGNATURE     "QEMU"
#define DMA_SIGNATURE "QEMU CFG" /* FW_CFG_DMA_SIGNATURE, byte by byte as the ports read it */

/* The item a key selects, or NULL (an unknown key, which reads as zeros). The write-channel
 * bit is ignored, as in QEMU: nothing here is writable. */
static struct fw_cfg_item *item(struct fw_cfg *c, uint16_t key)
{
	unsigned i = key & FW_CFG_ENTRY_MASK;
	if (key & FW_CFG_ARCH_LOCAL)
		return i < FW_CFG_ARCH_KEYS ? &c->arch[i] : NULL;
	if (i < FW_CFG_FILE_FIRST)
		return &c->generic[i];
	return i - FW_CFG_FILE_FIRST < c->nr_files ? &c->file[i - FW_CFG_FILE_FIRST] : NULL;
}

static int set(struct fw_cfg_item *it, const void *data, uint32_t size)
{
	uint8_t *copy = size ? malloc(size) : NULL;
	if (size && !copy)
		return -ENOMEM;
	if (size)
		memcpy(copy, data, size);
	free(it->data);
	it->data = copy;
	it->size = size;
	return 0;
}

int fw_cfg_init(struct fw_cfg *c, const struct gmem *mem)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->mem = mem;
	uint32_t id = htole32(FW_CFG_VERSION | FW_CFG_VERSION_DMA), count = 0;
	int ret = set(&c->generic[FW_CFG_SIGNATURE], SIGNATURE, FW_CFG_SIG_SIZE);
	if (!ret)
		ret = set(&c->generic[FW_CFG_ID], &id, sizeof(id));
	if (!ret)
		ret = set(&c->generic[FW_CFG_FILE_DIR], &count, sizeof(count));
	return ret;
}

void fw_cfg_destroy(struct fw_cfg *c)
{
	for (unsigned i = 0; i < FW_CFG_FILE_FIRST; i++)
		free(c->generic[i].data);
	for (unsigned i = 0; i < FW_CFG_ARCH_KEYS; i++)
		free(c->arch[i].data);
	for (unsigned i = 0; i < c->nr_files; i++)
		free(c->file[i].data);
	pthread_mutex_destroy(&c->lock);
	memset(c, 0, sizeof(*c));
}

int fw_cfg_add(struct fw_cfg *c, uint16_t key, const void *data, uint32_t size)
{
	unsigned i = key & FW_CFG_ENTRY_MASK;
	bool arch = key & FW_CFG_ARCH_LOCAL;
	if ((key & FW_CFG_WRITE_CHANNEL) ||
	    (arch ? i >= FW_CFG_ARCH_KEYS : i >= FW_CFG_FILE_FIRST) ||
	    (!arch && i == FW_CFG_FILE_DIR))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int ret = set(arch ? &c->arch[i] : &c->generic[i], data, size);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static int by_name(const void *a, const void *b)
{
	return strncmp(((const struct fw_cfg_file *)a)->name, ((const struct fw_cfg_file *)b)->name,
		       FW_CFG_MAX_FILE_PATH);
}

/* The directory: a big-endian count, then the entries sorted by name as QEMU lists them. */
static int rebuild_dir(struct fw_cfg *c)
{
	struct {
		uint32_t count;
		struct fw_cfg_file f[FW_CFG_MAX_FILES];
	} dir = {.count = htobe32(c->nr_files)};
	for (unsigned i = 0; i < c->nr_files; i++) {
		dir.f[i].size = htobe32(c->file[i].size);
		dir.f[i].select = htobe16((uint16_t)(FW_CFG_FILE_FIRST + i));
		memcpy(dir.f[i].name, c->name[i], FW_CFG_MAX_FILE_PATH);
	}
	qsort(dir.f, c->nr_files, sizeof(dir.f[0]), by_name);
	return set(&c->generic[FW_CFG_FILE_DIR], &dir,
		   (uint32_t)(sizeof(dir.count) + c->nr_files * sizeof(dir.f[0])));
}

int fw_cfg_add_file(struct fw_cfg *c, const char *name, const void *data, uint32_t size)
{
	size_t n = strlen(name);
	if (!n || n >= FW_CFG_MAX_FILE_PATH)
		return -EINVAL;
	int ret = 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_files && !ret; i++)
		if (!strcmp(c->name[i], name))
			ret = -EEXIST;
	if (!ret && c->nr_files == FW_CFG_MAX_FILES)
		ret = -ENOSPC;
	unsigned i = c->nr_files;
	if (!ret)
		ret = set(&c->file[i], data, size);
	if (!ret) {
		memset(c->name[i], 0, FW_CFG_MAX_FILE_PATH);
		memcpy(c->name[i], name, n);
		c->nr_files++;
		ret = rebuild_dir(c);
		if (ret)
			c->nr_files--;
	}
	pthread_mutex_unlock(&c->lock);
	return ret ? ret : (int)(FW_CFG_FILE_FIRST + i);
}

/* ------------------------------------------------------------ register core (lock held) ---- */

static void select_key(struct fw_cfg *c, uint16_t key)
{
	c->key = key;
	c->offset = 0;
}

/* Up to n bytes of the selected item from the current offset (the rest past its end is 0). */
static void read_bytes(struct fw_cfg *c, uint8_t *dst, uint32_t n)
{
	const struct fw_cfg_item *it = item(c, c->key);
	uint32_t have = it && c->offset < it->size ? it->size - c->offset : 0;
	if (have > n)
		have = n;
	if (have)
		memcpy(dst, it->data + c->offset, have);
	memset(dst + have, 0, n - have);
	c->offset = n > UINT32_MAX - c->offset ? UINT32_MAX : c->offset + n;
}

/* A DMA read of len bytes into guest memory at gpa, in chunks of whatever lies in one region. */
static int dma_read(struct fw_cfg *c, uint64_t gpa, uint32_t len)
{
	if (!gmem_contains(c->mem, gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t contig;
		uint8_t *p = gmem_ptr_prefix(c->mem, gpa, len, &contig);
		if (!p)
			return -EFAULT;
		read_bytes(c, p, (uint32_t)contig);
		gpa += contig;
		len -= (uint32_t)contig;
	}
	return 0;
}

/* Runs the FWCfgDmaAccess at gpa and writes its control word back: 0, or the error bit. */
static void dma_run(struct fw_cfg *c, uint64_t gpa)
{
	struct fw_cfg_dma_access a;
	c->stats.dma++;
	if (gmem_read(c->mem, gpa, &a, sizeof(a))) {
		c->stats.dma_errors++; /* nowhere to report it: the request is not in RAM */
		return;
	}
	uint32_t control = be32toh(a.control), len = be32toh(a.length);
	uint64_t addr = be64toh(a.address);
	int ret = 0;
	if (control & FW_CFG_DMA_CTL_SELECT)
		select_key(c, (uint16_t)(control >> 16));
	if (control & FW_CFG_DMA_CTL_READ)
		ret = dma_read(c, addr, len);
	else if (control & FW_CFG_DMA_CTL_WRITE)
		ret = -EROFS; /* every item is read-only */
	else if (control & FW_CFG_DMA_CTL_SKIP)
		c->offset = len > UINT32_MAX - c->offset ? UINT32_MAX : c->offset + len;
	if (ret)
		c->stats.dma_errors++;
	uint32_t done = htobe32(ret ? FW_CFG_DMA_CTL_ERROR : 0);
	/* The request was readable, so its first word is writable RAM too. */
	gmem_write(c->mem, gpa + offsetof(struct fw_cfg_dma_access, control), &done, sizeof(done));
}

static int dma_access(struct fw_cfg *c, unsigned off, uint8_t *data, unsigned len, bool is_write)
{
	if (!is_write) {
		if (off + len > FW_CFG_DMA_SIZE)
			return -EINVAL;
		memcpy(data, DMA_SIGNATURE + off, len);
		return 0;
	}
	if (len != 4 || (off != 0 && off != 4))
		return -EINVAL;
	uint32_t half;
	memcpy(&half, data, 4);
	half = be32toh(half);
	if (off == 0) {
		c->dma_high = half;
		return 0;
	}
	dma_run(c, (uint64_t)c->dma_high << 32 | half);
	c->dma_high = 0; /* the register reads 0 after an operation */
	return 0;
}

static int access(struct fw_cfg *c, unsigned off, uint8_t *data, unsigned len, bool is_write)
{
	if (off >= FW_CFG_DMA_OFF)
		return dma_access(c, off - FW_CFG_DMA_OFF, data, len, is_write);
	if (off == FW_CFG_SEL_OFF && len == 2 && is_write) {
		uint16_t key;
		memcpy(&key, data, 2);
		select_key(c, le16toh(key));
		return 0;
	}
	if (off == FW_CFG_DATA_OFF && len == 1) {
		if (!is_write)
			read_bytes(c, data, 1);
		return 0; /* writes ignored */
	}
	return -EINVAL;
}

int fw_cfg_trap(void *dev, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct fw_cfg *c = dev;
	if (off >= FW_CFG_NR_PORTS || len > FW_CFG_NR_PORTS - off)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int ret = access(c, (unsigned)off, data, len, is_write);
	if (ret)
		c->stats.refused++;
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int fw_cfg_trap_rep(void *dev, uint64_t off, uint8_t *data, unsigned len, unsigned count,
		    bool is_write)
{
	struct fw_cfg *c = dev;
	if (off == FW_CFG_DATA_OFF && len == 1 && !is_write) {
		pthread_mutex_lock(&c->lock);
		read_bytes(c, data, count);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	int ret = 0;
	for (unsigned i = 0; i < count; i++)
		ret |= fw_cfg_trap(dev, off, data + (size_t)i * len, len, is_write);
	return ret ? -EINVAL : 0;
}
