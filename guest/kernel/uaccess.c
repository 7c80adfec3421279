/* guest/kernel/uaccess.c — checked copies between kernel and user memory (faults resolved or turned into -EFAULT). */
#include "kernel.h"
#include "mm.h"

/* The range must lie in the user half; the asm routine does the rest: with
 * CR0.WP set, a kernel write into a COW page faults and is broken like a user
 * write before the copy resumes. */
static int user_range_ok(uint64_t u, uint64_t n)
{
	return u + n >= u && u + n <= USER_TOP;
}

int copy_to_user(uint64_t udst, const void *src, uint64_t n)
{
	if (!user_range_ok(udst, n))
		return -EFAULT;
	return (int)copy_user_raw((void *)udst, src, n);
}

int copy_from_user(void *dst, uint64_t usrc, uint64_t n)
{
	if (!user_range_ok(usrc, n))
		return -EFAULT;
	return (int)copy_user_raw(dst, (const void *)usrc, n);
}

/* A NUL-terminated user string into dst[n]: its length, -EFAULT, or -EINVAL
 * when it does not fit. */
int strncpy_from_user(char *dst, uint64_t usrc, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		if (copy_from_user(&dst[i], usrc + i, 1))
			return -EFAULT;
		if (!dst[i])
			return (int)i;
	}
	return -EINVAL;
}
