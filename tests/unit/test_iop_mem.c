/* SPDX-License-Identifier: MIT */
/* ioproxy's memory table (proxy/mem.c): which files it seals against shrinking and which it
 * cannot (a memfd that allows sealing, one already sealed, one made without sealing, one whose
 * sealing is closed, a tmpfs file, a file without seals, a read-only fd), regions whose offset
 * or guest address is not page-aligned refused, a region's mapping starting at its offset, and
 * every mapping entered in fault.h's table while it exists. (The protocol-level refusals are in
 * test_iop_vhost.c.) */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "mem.h"

#define PAGE 4096
#define SIZE (4 * PAGE)

static int memfd(unsigned flags)
{
	int fd = memfd_create("test-guest", MFD_CLOEXEC | flags);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	return fd;
}

/* A file of SIZE bytes in dir (unlinked). */
static int file_in(const char *dir)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/test-iop-mem.XXXXXX", dir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	return fd;
}

static void seal_sealable(void **state)
{
	(void)state;
	int fd = memfd(MFD_ALLOW_SEALING);
	assert_int_equal(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK, 0);
	assert_true(iop_mem_seal(fd));
	assert_int_equal(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK); /* that seal, nothing more */
	assert_int_equal(ftruncate(fd, PAGE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 2 * SIZE), 0); /* growing harms no mapping */
	assert_true(iop_mem_seal(fd));		      /* again: nothing to do */
	close(fd);
	/* Sealed by its owner already, as vmmon and QEMU do. */
	fd = memfd(MFD_ALLOW_SEALING);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	assert_true(iop_mem_seal(fd));
	close(fd);
}

static void seal_impossible(void **state)
{
	(void)state;
	/* Made without MFD_ALLOW_SEALING: born with F_SEAL_SEAL. */
	int fd = memfd(0);
	assert_false(iop_mem_seal(fd));
	assert_int_equal(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
	assert_int_equal(ftruncate(fd, 0), 0); /* it can still shrink: the handler's case */
	close(fd);
	/* Sealing closed by its owner before shrinking was sealed. */
	fd = memfd(MFD_ALLOW_SEALING);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
	assert_false(iop_mem_seal(fd));
	close(fd);
	/* A read-only fd may not add seals, even where the file allows them. */
	fd = memfd(MFD_ALLOW_SEALING);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	assert_false(iop_mem_seal(ro));
	assert_int_equal(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK, 0);
	close(ro);
	close(fd);
	/* A tmpfs file (QEMU's memory-backend-file on /dev/shm). */
	if (access("/dev/shm", W_OK) == 0) {
		fd = file_in("/dev/shm");
		assert_false(iop_mem_seal(fd));
		close(fd);
	}
	/* A file that has no seals at all (fcntl refuses F_GET_SEALS): this program's own
	 * executable, which no filesystem here keeps on shmem. */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (fcntl(fd, F_GET_SEALS) < 0)
		assert_false(iop_mem_seal(fd));
	close(fd);
}

static struct vhost_user_memory table1(uint64_t gpa, uint64_t size, uint64_t off)
{
	struct vhost_user_memory t = {.nregions = 1};
	t.regions[0] = (struct vhost_user_mem_region){.guest_phys_addr = gpa,
						      .memory_size = size,
						      .userspace_addr = 0x7000000000,
						      .mmap_offset = off};
	return t;
}

static void alignment(void **state)
{
	(void)state;
	atomic_bool fault = false;
	struct iop_mem m;
	iop_mem_init(&m, &fault);
	int fd = memfd(MFD_ALLOW_SEALING);
	/* Offsets and guest addresses off a page: rings would sit misaligned in ioproxy. */
	const uint64_t bad[][2] = {{0, 1}, {0, PAGE - 1}, {0, PAGE + 8}, {1, 0}, {PAGE / 2, 0}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vhost_user_memory t = table1(bad[i][0], 2 * PAGE, bad[i][1]);
		assert_int_equal(iop_mem_set(&m, &t, &fd), -EINVAL);
		assert_int_equal(m.nr, 0);
	}
	/* At a page offset, the mapping starts at the offset itself. */
	uint8_t mark = 0x5a;
	assert_int_equal(pwrite(fd, &mark, 1, PAGE), 1);
	struct vhost_user_memory t = table1(PAGE, 2 * PAGE, PAGE);
	assert_int_equal(iop_mem_set(&m, &t, &fd), 0);
	assert_int_equal(m.nr, 1);
	assert_int_equal(m.r[0].map[0], mark);
	assert_ptr_equal(gmem_ptr(&m.gmem, PAGE, 1), m.r[0].map);
	assert_int_equal((uintptr_t)gmem_ptr(&m.gmem, PAGE + 0x100, 16) % 16, 0);
	iop_mem_clear(&m);
	close(fd);
	assert_false(fault);
}

static void sealed_and_watched(void **state)
{
	(void)state;
	atomic_bool fault = false;
	struct iop_mem m;
	iop_mem_init(&m, &fault);
	int fds[2] = {memfd(MFD_ALLOW_SEALING), memfd(0)};
	struct vhost_user_memory t = {.nregions = 2};
	t.regions[0] = (struct vhost_user_mem_region){
		.guest_phys_addr = 0, .memory_size = SIZE, .userspace_addr = 0x7000000000};
	t.regions[1] = (struct vhost_user_mem_region){.guest_phys_addr = 1ull << 30,
						      .memory_size = SIZE - PAGE,
						      .userspace_addr = 0x7100000000,
						      .mmap_offset = PAGE};
	assert_int_equal(iop_mem_set(&m, &t, fds), 0);
	assert_false(m.r[0].may_shrink);
	assert_true(fcntl(fds[0], F_GET_SEALS) & F_SEAL_SHRINK);
	assert_true(m.r[1].may_shrink);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(m.r[i].watch >= 0);
		assert_int_equal(iop_fault_find(m.r[i].map), m.r[i].watch);
		assert_int_equal(iop_fault_find(m.r[i].map + m.r[i].map_len - 1), m.r[i].watch);
		assert_int_equal(iop_fault_find(m.r[i].map - 1), -1); /* the guards are not */
	}
	/* A new table replaces the entries with its own; clearing withdraws them. */
	uint8_t *old = m.r[0].map;
	t.nregions = 1;
	assert_int_equal(iop_mem_set(&m, &t, fds), 0);
	assert_int_equal(m.nr, 1);
	if (m.r[0].map != old)
		assert_int_equal(iop_fault_find(old), -1);
	uint8_t *last = m.r[0].map;
	assert_int_equal(iop_fault_find(last), m.r[0].watch);
	iop_mem_clear(&m);
	assert_int_equal(iop_fault_find(last), -1);
	assert_ptr_equal(m.fault, &fault); /* kept for the next table */
	/* A table refused after its first region was mapped leaves nothing behind: the second
	 * fd is read-only, which passes the checks but cannot be mapped writable. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[1]);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	int mixed[2] = {fds[0], ro};
	t.nregions = 2;
	assert_int_equal(iop_mem_set(&m, &t, mixed), -EACCES);
	assert_int_equal(m.nr, 0);
	close(ro);
	for (int s = 0; s < IOP_FAULT_SLOTS; s++) {
		int got =
			iop_fault_watch((void *)(uintptr_t)(0x100000000ull + s * PAGE), PAGE, NULL);
		assert_int_equal(got, s); /* every slot free again */
	}
	for (int s = 0; s < IOP_FAULT_SLOTS; s++)
		iop_fault_unwatch(s);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_sealable),
		cmocka_unit_test(seal_impossible),
		cmocka_unit_test(alignment),
		cmocka_unit_test(sealed_and_watched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
