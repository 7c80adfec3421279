/* guest/kernel/pipe.c — pipes: a one-page ring buffer, blocking read/write, EOF when every write end is closed. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"

#define NPIPE 32
#define PIPE_SIZE PAGE_SIZE

struct pipe {
	int used;
	uint64_t buf_pa;        /* pinned kernel frame */
	uint64_t nread, nwrite; /* running byte counts; nwrite - nread buffered */
	int readers, writers;   /* open file objects per end (fds share them) */
};

static struct pipe pipes[NPIPE];

int pipe_alloc(struct file **rf, struct file **wf)
{
	struct pipe *p = NULL;
	for (int i = 0; i < NPIPE && !p; i++)
		if (!pipes[i].used)
			p = &pipes[i];
	if (!p)
		return -ENOMEM;
	uint64_t pa = kpage_alloc(COWVMM_SITE_PIPE);
	if (!pa)
		return -ENOMEM;
	*rf = file_alloc();
	*wf = *rf ? file_alloc() : NULL;
	if (!*wf) {
		if (*rf)
			file_close(*rf);
		kpage_free(pa);
		return -ENOMEM;
	}
	*p = (struct pipe){ .used = 1, .buf_pa = pa, .readers = 1, .writers = 1 };
	(*rf)->type = (*wf)->type = FT_PIPE;
	(*rf)->pipe = (*wf)->pipe = p;
	(*rf)->readable = 1;
	(*wf)->writable = 1;
	return 0;
}

void pipe_close(struct pipe *p, int writable)
{
	if (writable) {
		p->writers--;
		wakeup(&p->nread); /* readers may now see EOF */
	} else {
		p->readers--;
		wakeup(&p->nwrite); /* writers may now get EPIPE */
	}
	if (!p->readers && !p->writers) {
		kpage_free(p->buf_pa);
		p->used = 0;
	}
}

long pipe_read(struct pipe *p, uint64_t ubuf, uint64_t n)
{
	while (p->nread == p->nwrite && p->writers > 0) {
		if (curproc->killed)
			return -EINTR;
		sleep_on(&p->nread);
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
	uint8_t *buf = phys_to_virt(p->buf_pa);
	uint64_t done = 0;
	while (done < n) {
		if (!p->readers)
			return done ? (long)done : -EPIPE;
		if (curproc->killed)
			return done ? (long)done : -EINTR;
		if (p->nwrite - p->nread == PIPE_SIZE) {
			wakeup(&p->nread);
			sleep_on(&p->nwrite);
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
