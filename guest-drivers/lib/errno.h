/* SPDX-License-Identifier: MIT */
/* Error numbers (Linux values); functions return 0 or -errno. */
#ifndef G_LIB_ERRNO_H
#define G_LIB_ERRNO_H

#define ENOENT	  2
#define EIO	  5
#define E2BIG	  7
#define ENOMEM	  12
#define EFAULT	  14
#define EBUSY	  16
#define ENODEV	  19
#define EINVAL	  22
#define ENOSPC	  28
#define ERANGE	  34
#define ENOSYS	  38
#define EBADMSG	  74
#define ENOTSUP	  95
#define ETIMEDOUT 110

#endif
