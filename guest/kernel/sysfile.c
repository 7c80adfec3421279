/* guest/kernel/sysfile.c — file-descriptor system calls: read, write, pipe, close, dup. */
#include "kernel.h"
#include "proc.h"
#include "syscalls.h"

static struct file *fd_get(uint64_t fd)
{
	if (fd >= NOFILE || !curproc->files)
		return NULL;
	return curproc->files->fd[fd];
}

SYSCALL(write)
{
	UNUSED_ARGS();
	struct file *f = fd_get(a0);
	return f ? file_write(f, a1, a2) : -EBADF;
}

SYSCALL(read)
{
	UNUSED_ARGS();
	struct file *f = fd_get(a0);
	return f ? file_read(f, a1, a2) : -EBADF;
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
			curproc->files->fd[fds[0]] = NULL;
		if (fds[1] >= 0)
			curproc->files->fd[fds[1]] = NULL;
		file_close(rf);
		file_close(wf);
		return r;
	}
	return 0;
}

SYSCALL(close)
{
	UNUSED_ARGS();
	struct file *f = fd_get(a0);
	if (!f)
		return -EBADF;
	curproc->files->fd[a0] = NULL;
	file_close(f);
	return 0;
}

SYSCALL(dup)
{
	UNUSED_ARGS();
	struct file *f = fd_get(a0);
	if (!f)
		return -EBADF;
	int fd = fd_install(curproc, f);
	if (fd >= 0)
		file_dup(f);
	return fd;
}
