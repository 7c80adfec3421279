/* vmm/outfile.c — output files written directly, or by a helper process forked before the seccomp filter: its allow-list, protocol and loop. */
#define _GNU_SOURCE /* close_range() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"

extern char **environ;

int out_allow(struct outfiles *o, const char *path, enum out_kind kind)
{
	for (unsigned i = 0; i < o->n; i++)
		if (o->e[i].kind == kind && !strcmp(o->e[i].path, path))
			return 0;
	if (o->n == OUT_MAX)
		return -ENOSPC;
	o->e[o->n].path = path;
	o->e[o->n].kind = kind;
	o->n++;
	return 0;
}

/* A plain file name: no directory part, not hidden, nothing a shell or a
 * path could read twice.  Checked on both sides of the socket. */
static bool plain_name(const char *s, size_t n)
{
	if (n == 0 || n >= OUT_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The allow-list entry for PATH (name NULL: a file) or DIR (a name in it). */
static int find(const struct outfiles *o, const char *path, bool dir)
{
	for (unsigned i = 0; o && i < o->n; i++)
		if (o->e[i].kind == (dir ? OUT_DIR : OUT_FILE) && !strcmp(o->e[i].path, path))
			return (int)i;
	return -1;
}

/* dir "/" name (or just dir): 0, or -ENAMETOOLONG. */
static int join(char *out, size_t n, const char *dir, const char *name)
{
	int len = name ? snprintf(out, n, "%s/%s", dir, name) : snprintf(out, n, "%s", dir);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* dot -Tsvg -o out in: quietly nothing when Graphviz is not installed. */
static int run_dot(const char *in, const char *out)
{
	char *argv[] = { "dot", "-Tsvg", "-o", (char *)out, (char *)in, NULL };
	pid_t pid;
	int r = posix_spawnp(&pid, "dot", NULL, NULL, argv, environ);
	if (r == ENOENT)
		return 0;
	if (r)
		return -r;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? 0 : (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO);
}

/* DIR/BASE.dot -> DIR/BASE.svg. */
static int dot_paths(const char *dir, const char *base, char *in, char *out, size_t n)
{
	char dn[OUT_NAME_MAX + 8], sn[OUT_NAME_MAX + 8];
	snprintf(dn, sizeof dn, "%s.dot", base);
	snprintf(sn, sizeof sn, "%s.svg", base);
	if (!plain_name(dn, strlen(dn)) || !plain_name(sn, strlen(sn)))
		return -EINVAL;
	int r = join(in, n, dir, dn);
	return r ? r : join(out, n, dir, sn);
}

/* ---- the protocol: one request, then one int32 reply (0 or -errno) -------- */

/* Whole buffers, across short transfers and signals (a vCPU thread's kick
 * interrupts a blocking call: the handler is installed without SA_RESTART). */
static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Send one request, wait for its reply. */
static int ask(struct outfiles *o, uint32_t op, int idx, unsigned mode, const char *name, const void *data,
	       size_t len)
{
	struct out_req q = { .op = op, .idx = (uint32_t)idx, .mode = mode,
			     .namelen = name ? (uint32_t)strlen(name) : 0, .len = len };
	int32_t reply = -EIO;
	pthread_mutex_lock(&o->lock);
	int r = write_all(o->fd, &q, sizeof q);
	if (!r && q.namelen)
		r = write_all(o->fd, name, q.namelen);
	if (!r && len)
		r = write_all(o->fd, data, len);
	if (!r)
		r = read_all(o->fd, &reply, sizeof reply);
	pthread_mutex_unlock(&o->lock);
	return r ? r : reply;
}

/* ---- the VMM's side ---------------------------------------------------------- */

FILE *out_open(struct outfile *w, struct outfiles *o, const char *path, const char *name)
{
	memset(w, 0, sizeof *w);
	w->o = o && o->helper ? o : NULL;
	if (name && !plain_name(name, strlen(name))) {
		errno = EINVAL;
		return NULL;
	}
	if (!w->o) {
		char full[PATH_MAX];
		int r = join(full, sizeof full, path, name);
		if (r) {
			errno = -r;
			return NULL;
		}
		return w->f = fopen(full, "w");
	}
	/* Not registered before the filter: a VMM bug, refused like the helper would. */
	w->idx = find(o, path, name != NULL);
	if (w->idx < 0) {
		errno = EPERM;
		return NULL;
	}
	if (name)
		snprintf(w->name, sizeof w->name, "%s", name);
	return w->f = open_memstream(&w->buf, &w->len);
}

int out_close(struct outfile *w)
{
	if (!w->f)
		return -EBADF;
	int r = fclose(w->f) ? -errno : 0;
	w->f = NULL;
	if (w->o) {
		if (!r)
			r = ask(w->o, OUT_OP_WRITE, w->idx, 0, w->name[0] ? w->name : NULL, w->buf, w->len);
		free(w->buf);
		w->buf = NULL;
	}
	return r;
}

int out_mkdir(struct outfiles *o, const char *dir, unsigned mode)
{
	if (!o || !o->helper)
		return mkdir(dir, mode & 0777) ? -errno : 0;
	int idx = find(o, dir, true);
	return idx < 0 ? -EPERM : ask(o, OUT_OP_MKDIR, idx, mode & 0777, NULL, NULL, 0);
}

int out_dot(struct outfiles *o, const char *dir, const char *base)
{
	if (!o || !o->helper) {
		char in[PATH_MAX], out[PATH_MAX];
		int r = dot_paths(dir, base, in, out, sizeof in);
		return r ? r : run_dot(in, out);
	}
	int idx = find(o, dir, true);
	return idx < 0 ? -EPERM : ask(o, OUT_OP_DOT, idx, 0, base, NULL, 0);
}

/* ---- the helper's side --------------------------------------------------------- */

/* Copy `len` bytes from the socket into fd (or nowhere when fd < 0, keeping
 * the stream in step): 0 or the first -errno. */
static int copy_in(int sock, int fd, uint64_t len, int *err)
{
	char buf[65536];
	while (len) {
		size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
		int r = read_all(sock, buf, n);
		if (r)
			return r;
		if (fd >= 0 && !*err)
			*err = write_all(fd, buf, n);
		len -= n;
	}
	return 0;
}

/* One request: the reply, or a protocol error (the helper then quits). */
static int serve(const struct outfiles *o, int sock, const struct out_req *q, int32_t *reply)
{
	char name[OUT_NAME_MAX] = "", path[PATH_MAX];
	if (q->namelen >= sizeof name)
		return -EPROTO;
	int r = read_all(sock, name, q->namelen);
	if (r)
		return r;
	bool named = q->namelen > 0;
	int err = 0;
	if (q->idx >= o->n || (named && !plain_name(name, q->namelen)))
		err = -EPERM;
	else if (o->e[q->idx].kind == OUT_FILE ? named || q->op != OUT_OP_WRITE : named == (q->op == OUT_OP_MKDIR))
		err = -EPERM; /* a file: written whole; a directory: made, or a name in it */
	const char *base = err ? "" : o->e[q->idx].path;
	switch (q->op) {
	case OUT_OP_WRITE: {
		int fd = -1;
		if (!err)
			err = join(path, sizeof path, base, named ? name : NULL);
		if (!err) {
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
			if (fd < 0)
				err = -errno;
		}
		r = copy_in(sock, fd, q->len, &err);
		if (fd >= 0 && close(fd) && !err)
			err = -errno;
		if (r)
			return r;
		break;
	}
	case OUT_OP_MKDIR:
		if (q->len)
			return -EPROTO;
		if (!err)
			err = mkdir(base, q->mode & 0777) ? -errno : 0;
		break;
	case OUT_OP_DOT: {
		char out[PATH_MAX];
		if (q->len)
			return -EPROTO;
		if (!err)
			err = dot_paths(base, name, path, out, sizeof path);
		if (!err)
			err = run_dot(path, out);
		break;
	}
	default:
		return -EPROTO;
	}
	*reply = err;
	return 0;
}

static _Noreturn void helper_main(const struct outfiles *o, int sock)
{
	for (;;) {
		struct out_req q;
		int32_t reply = 0;
		if (read_all(sock, &q, sizeof q) || serve(o, sock, &q, &reply) ||
		    write_all(sock, &reply, sizeof reply))
			_exit(0); /* the VMM closed its end (or broke the protocol) */
	}
}

int out_helper_start(struct outfiles *o)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* Nothing buffered may come out twice. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		/* The helper: stdio, its socket as fd 3 (close-on-exec: Graphviz
		 * does not get it), nothing else the VMM had open. */
		close(sv[0]);
		if (sv[1] != 3) {
			if (dup3(sv[1], 3, O_CLOEXEC) < 0)
				_exit(1);
			close(sv[1]);
		}
		close_range(4, ~0u, 0);
		helper_main(o, 3);
	}
	close(sv[1]);
	pthread_mutex_init(&o->lock, NULL);
	o->fd = sv[0];
	o->pid = pid;
	o->helper = true;
	return 0;
}

void out_helper_stop(struct outfiles *o)
{
	if (!o->helper)
		return;
	close(o->fd);
	while (waitpid(o->pid, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_destroy(&o->lock);
	o->helper = false;
}
