/* guest/kernel/sysfile.c — file-descriptor system calls: read, write, pipe, close, dup. */
#include "kernel.h"
#include "proc.h"
#include "syscalls.h"

SYSCALL(write)
{
	UNUSED_ARGS();
	struct file *f = fd_get(curproc, a0);
	if (!f)
		return -EBADF;
	long r = file_write(f, a1, a2);
	file_close(f);
	return r;
}

SYSCALL(read)
{
	UNUSED_ARGS();
	struct file *f = fd_get(curproc, a0);
	if (!f)
		return -EBADF;
	long r = file_read(f, a1, a2);
	file_close(f);
	return r;
}

SYSCALL(pipe)
{
	UNUSED_ARGS();
	struct file *rf, *wf;
	int r = pipe_alloc(&rf, &wf);
	if (r)
		return r;
	int fds[2] = { fd_install(curproc, rf), -1 };
	if (fds[0] >= 0)
		fds[1] = fd_install(curproc, wf);
	if (fds[1] < 0 || copy_to_user(a0, fds, sizeof(fds))) {
		r = fds[1] < 0 ? -EMFILE : -EFAULT;
		if (fds[0] >= 0)
			fd_remove(curproc, (uint64_t)fds[0]);
		if (fds[1] >= 0)
			fd_remove(curproc, (uint64_t)fds[1]);
		file_close(rf);
		file_close(wf);
		return r;
	}
	return 0;
}

SYSCALL(close)
{
	UNUSED_ARGS();
	struct file *f = fd_remove(curproc, a0);
	if (!f)
		return -EBADF;
	file_close(f);
	return 0;
}

SYSCALL(dup)
{
	UNUSED_ARGS();
	struct file *f = fd_get(curproc, a0); /* the reference the new fd keeps */
	if (!f)
		return -EBADF;
	int fd = fd_install(curproc, f);
	if (fd < 0)
		file_close(f);
	return fd;
}
