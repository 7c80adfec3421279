/* guest/kernel/file.c — open files (shared by reference between fd tables) and per-process fd tables. */
#include "kernel.h"
#include "proc.h"

#define NFILE 128

static struct file files[NFILE];
static struct fdtable fdtables[NPROC];

/* Both pools are allocation sites: fork's copy_files can fail like Linux's dup_fd. */
struct file *file_alloc(void)
{
	if (should_fail(COWVMM_SITE_FDTABLE))
		return NULL;
	for (int i = 0; i < NFILE; i++)
		if (files[i].ref == 0) {
			memset(&files[i], 0, sizeof(files[i]));
			files[i].ref = 1;
			return &files[i];
		}
	return NULL;
}

struct file *file_dup(struct file *f)
{
	KASSERT(f->ref > 0);
	f->ref++;
	return f;
}

/* The last close of a pipe end tells the pipe (EOF / EPIPE for the other side). */
void file_close(struct file *f)
{
	KASSERT(f->ref > 0);
	if (--f->ref > 0)
		return;
	if (f->type == FT_PIPE)
		pipe_close(f->pipe, f->writable);
	f->type = FT_NONE;
}

long file_read(struct file *f, uint64_t ubuf, uint64_t n)
{
	if (!f->readable)
		return -EBADF;
	if (f->type == FT_PIPE)
		return pipe_read(f->pipe, ubuf, n);
	return 0; /* the console has no input: EOF */
}

long file_write(struct file *f, uint64_t ubuf, uint64_t n)
{
	static char buf[512];
	if (!f->writable)
		return -EBADF;
	if (f->type == FT_PIPE)
		return pipe_write(f->pipe, ubuf, n);
	for (uint64_t done = 0; done < n;) {
		uint64_t k = MIN(n - done, (uint64_t)sizeof(buf));
		if (copy_from_user(buf, ubuf + done, k))
			return done ? (long)done : -EFAULT;
		console_write(buf, k);
		done += k;
	}
	return (long)n;
}

struct fdtable *fdtable_alloc(void)
{
	if (should_fail(COWVMM_SITE_FDTABLE))
		return NULL;
	for (int i = 0; i < NPROC; i++)
		if (!fdtables[i].used) {
			memset(&fdtables[i], 0, sizeof(fdtables[i]));
			fdtables[i].used = 1;
			return &fdtables[i];
		}
	return NULL;
}

void fdtable_free(struct fdtable *t)
{
	for (int fd = 0; fd < NOFILE; fd++)
		if (t->fd[fd]) {
			file_close(t->fd[fd]);
			t->fd[fd] = NULL;
		}
	t->used = 0;
}

int fd_install(struct proc *p, struct file *f)
{
	for (int fd = 0; fd < NOFILE; fd++)
		if (!p->files->fd[fd]) {
			p->files->fd[fd] = f;
			return fd;
		}
	return -EMFILE;
}
