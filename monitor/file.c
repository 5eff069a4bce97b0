/* SPDX-License-Identifier: MIT */
#include "file.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int vmm_file_map(struct vmm_file *f, const char *path, const char *what, struct host_err *err)
{
	int ret = 0;
	*f = (struct vmm_file){0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return host_err_set(err, errno, "%s %s: cannot open: %s", what, path,
				    strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ret = host_err_set(err, errno, "%s %s: cannot stat: %s", what, path,
				   strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = host_err_set(err, EINVAL, "%s %s: not a regular file", what, path);
		goto out;
	}
	if (st.st_size == 0) {
		ret = host_err_set(err, ENOEXEC, "%s %s: the file is empty", what, path);
		goto out;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = host_err_set(err, errno, "%s %s: cannot map: %s", what, path,
				   strerror(errno));
		goto out;
	}
	f->data = p;
	f->size = (size_t)st.st_size;
out:
	close(fd);
	return ret;
}

void vmm_file_unmap(struct vmm_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	*f = (struct vmm_file){0};
}
