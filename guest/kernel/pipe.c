/* guest/kernel/pipe.c — pipes: a one-page ring buffer, blocking read/write, EOF when every write end is closed. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "spinlock.h"

static long pipe_read_locked(struct pipe *p, uint64_t ubuf, uint64_t n);
static long pipe_write_locked(struct pipe *p, uint64_t ubuf, uint64_t n);

#define NPIPE 32
#define PIPE_SIZE PAGE_SIZE

/* Each pipe has its lock (spinlock.h: after file_lock, before mm->lock --
 * the copies to and from user memory fault with it held). */
struct pipe {
	struct spinlock lock;
	int used;
	uint64_t buf_pa;        /* pinned kernel frame */
	uint64_t nread, nwrite; /* running byte counts; nwrite - nread buffered */
	int readers, writers;   /* open file objects per end (fds share them) */
};

static struct pipe pipes[NPIPE];
static struct spinlock pipes_lock = SPINLOCK_INIT("pipes"); /* the pool's used flags */

int pipe_alloc(struct file **rf, struct file **wf)
{
	struct pipe *p = NULL;
	spin_lock(&pipes_lock);
	for (int i = 0; i < NPIPE && !p; i++)
		if (!pipes[i].used) {
			p = &pipes[i];
			p->used = 1; /* claimed: filled in below */
		}
	spin_unlock(&pipes_lock);
	if (!p)
		return -ENOMEM;
	uint64_t pa = kpage_alloc(COWVMM_SITE_PIPE);
	*rf = pa ? file_alloc() : NULL;
	*wf = *rf ? file_alloc() : NULL;
	if (!*wf) {
		if (*rf)
			file_close(*rf);
		if (pa)
			kpage_free(pa);
		__atomic_store_n(&p->used, 0, __ATOMIC_RELEASE);
		return -ENOMEM;
	}
	*p = (struct pipe){ .lock = SPINLOCK_INIT("pipe"), .used = 1, .buf_pa = pa, .readers = 1, .writers = 1 };
	(*rf)->type = (*wf)->type = FT_PIPE;
	(*rf)->pipe = (*wf)->pipe = p;
	(*rf)->readable = 1;
	(*wf)->writable = 1;
	return 0;
}

void pipe_close(struct pipe *p, int writable)
{
	spin_lock(&p->lock);
	if (writable) {
		p->writers--;
		wakeup(&p->nread); /* readers may now see EOF */
	} else {
		p->readers--;
		wakeup(&p->nwrite); /* writers may now get EPIPE */
	}
	int gone = !p->readers && !p->writers;
	if (gone)
		kpage_free(p->buf_pa);
	spin_unlock(&p->lock);
	if (gone)
		__atomic_store_n(&p->used, 0, __ATOMIC_RELEASE);
}

long pipe_read(struct pipe *p, uint64_t ubuf, uint64_t n)
{
	spin_lock(&p->lock);
	long r = pipe_read_locked(p, ubuf, n);
	spin_unlock(&p->lock);
	return r;
}

static long pipe_read_locked(struct pipe *p, uint64_t ubuf, uint64_t n)
{
	while (p->nread == p->nwrite && p->writers > 0) {
		if (curproc->killed)
			return -EINTR;
		sleep_on(&p->nread, &p->lock);
	}
	uint8_t *buf = phys_to_virt(p->buf_pa);
	uint64_t done = 0;
	while (done < n && p->nread < p->nwrite) {
		uint64_t off = p->nread % PIPE_SIZE;
		uint64_t k = MIN(MIN(n - done, p->nwrite - p->nread), PIPE_SIZE - off);
		/* may fault on a COW page of the reader: broken before the copy */
		if (copy_to_user(ubuf + done, buf + off, k)) {
			if (!done)
				done = (uint64_t)-EFAULT;
			break;
		}
		p->nread += k;
		done += k;
	}
	wakeup(&p->nwrite);
	return (long)done;
}

long pipe_write(struct pipe *p, uint64_t ubuf, uint64_t n)
{
	spin_lock(&p->lock);
	long r = pipe_write_locked(p, ubuf, n);
	spin_unlock(&p->lock);
	return r;
}

static long pipe_write_locked(struct pipe *p, uint64_t ubuf, uint64_t n)
{
	uint8_t *buf = phys_to_virt(p->buf_pa);
	uint64_t done = 0;
	while (done < n) {
		if (!p->readers)
			return done ? (long)done : -EPIPE;
		if (curproc->killed)
			return done ? (long)done : -EINTR;
		if (p->nwrite - p->nread == PIPE_SIZE) {
			wakeup(&p->nread);
			sleep_on(&p->nwrite, &p->lock);
			continue;
		}
		uint64_t off = p->nwrite % PIPE_SIZE;
		uint64_t space = PIPE_SIZE - (p->nwrite - p->nread);
		uint64_t k = MIN(MIN(n - done, space), PIPE_SIZE - off);
		if (copy_from_user(buf + off, ubuf + done, k))
			return done ? (long)done : -EFAULT;
		p->nwrite += k;
		done += k;
	}
	wakeup(&p->nread);
	return (long)done;
}
