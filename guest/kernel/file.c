/* guest/kernel/file.c — open files (shared by reference between fd tables) and per-process fd tables, under file_lock. */
#include "kernel.h"
#include "proc.h"
#include "spinlock.h"

#define NFILE 128

/* file_lock guards both pools, every reference count and every fd slot: the
 * threads of a process share one fd table. */
static struct spinlock file_lock = SPINLOCK_INIT("file");
static struct file files[NFILE];
static struct fdtable fdtables[NPROC];

/* Both pools are allocation sites: fork's copy_files can fail like Linux's dup_fd. */
struct file *file_alloc(void)
{
	if (should_fail(COWVMM_SITE_FDTABLE))
		return NULL;
	struct file *f = NULL;
	spin_lock(&file_lock);
	for (int i = 0; i < NFILE && !f; i++)
		if (files[i].ref == 0) {
			memset(&files[i], 0, sizeof(files[i]));
			files[i].ref = 1;
			f = &files[i];
		}
	spin_unlock(&file_lock);
	return f;
}

struct file *file_dup(struct file *f)
{
	spin_lock(&file_lock);
	KASSERT(f->ref > 0);
	f->ref++;
	spin_unlock(&file_lock);
	return f;
}

/* The last close of a pipe end tells the pipe (EOF / EPIPE for the other
 * side), after file_lock is gone (the pipe's lock comes after it). */
void file_close(struct file *f)
{
	spin_lock(&file_lock);
	KASSERT(f->ref > 0);
	int last = --f->ref == 0;
	struct pipe *pipe = last && f->type == FT_PIPE ? f->pipe : NULL;
	int writable = f->writable;
	if (last)
		f->type = FT_NONE;
	spin_unlock(&file_lock);
	if (pipe)
		pipe_close(pipe, writable);
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
	char buf[256]; /* on the kernel stack: several CPUs write at once */
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
	struct fdtable *t = NULL;
	spin_lock(&file_lock);
	for (int i = 0; i < NPROC && !t; i++)
		if (!fdtables[i].used) {
			memset(&fdtables[i], 0, sizeof(fdtables[i]));
			fdtables[i].used = 1;
			t = &fdtables[i];
		}
	spin_unlock(&file_lock);
	return t;
}

/* fork's copy_files: one more reference on each open file. */
void fdtable_copy(struct fdtable *dst, struct fdtable *src)
{
	spin_lock(&file_lock);
	for (int fd = 0; fd < NOFILE; fd++)
		if ((dst->fd[fd] = src->fd[fd]))
			dst->fd[fd]->ref++;
	spin_unlock(&file_lock);
}

void fdtable_free(struct fdtable *t)
{
	for (int fd = 0; fd < NOFILE; fd++) {
		spin_lock(&file_lock);
		struct file *f = t->fd[fd];
		t->fd[fd] = NULL;
		spin_unlock(&file_lock);
		if (f)
			file_close(f);
	}
	spin_lock(&file_lock);
	t->used = 0;
	spin_unlock(&file_lock);
}

int fd_install(struct proc *p, struct file *f)
{
	int r = -EMFILE;
	spin_lock(&file_lock);
	for (int fd = 0; fd < NOFILE; fd++)
		if (!p->files->fd[fd]) {
			p->files->fd[fd] = f;
			r = fd;
			break;
		}
	spin_unlock(&file_lock);
	return r;
}

/* The file at fd with a reference of the caller's own (Linux's fdget): a
 * sibling thread's close cannot free it mid-read.  fd_put() gives it back. */
struct file *fd_get(struct proc *p, uint64_t fd)
{
	struct file *f = NULL;
	spin_lock(&file_lock);
	if (fd < NOFILE && p->files && (f = p->files->fd[fd]))
		f->ref++;
	spin_unlock(&file_lock);
	return f;
}

/* Take fd out of the table; returns its file (the table's reference). */
struct file *fd_remove(struct proc *p, uint64_t fd)
{
	struct file *f = NULL;
	spin_lock(&file_lock);
	if (fd < NOFILE && p->files && (f = p->files->fd[fd]))
		p->files->fd[fd] = NULL;
	spin_unlock(&file_lock);
	return f;
}
