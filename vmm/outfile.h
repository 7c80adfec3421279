/* vmm/outfile.h — the run's output files (--report, --bench-json, --bench-svg, --dot): written here, or by the file helper once the seccomp filter forbids opening files. */
#ifndef COWVMM_OUTFILE_H
#define COWVMM_OUTFILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Every file the VMM writes is named on its command line.  A module says so
 * from its option handler (out_allow()): the file, or the directory whose
 * plain names it will write.  After that, out_open()/out_close(),
 * out_mkdir() and out_dot() either do the work here (no helper: --no-seccomp,
 * the unit tests) or hand it to the file helper, a process forked before the
 * filter (vmm/sandbox.c, out_helper_start()) that still may open files and
 * run Graphviz.  The helper does only what the allow-list says: one of the
 * registered files, or a plain name ([A-Za-z0-9_-], then [A-Za-z0-9._-]) in
 * a registered directory; a VMM taken over by its guest can make it write
 * nothing else.  Calls are serialized by the run itself (pictures come from
 * stop-the-world audits, reports after every vCPU has ended); a lock makes
 * sure of it.
 */

#define OUT_MAX 16          /* distinct files and directories per run */
#define OUT_NAME_MAX 128    /* a file name inside a directory */

enum out_kind { OUT_FILE, OUT_DIR };

struct outfiles {
	unsigned n;
	struct {
		const char *path;   /* as given on the command line (argv lives as long as the run) */
		enum out_kind kind;
	} e[OUT_MAX];
	bool helper;            /* the helper writes (out_helper_start() succeeded) */
	int fd;                 /* our end of the socket to it */
	pid_t pid;
	pthread_mutex_t lock;   /* one request at a time on the socket */
};

/* Register a file or directory before the helper starts: 0, or -ENOSPC
 * (more than OUT_MAX distinct paths).  The same path twice is one entry. */
int out_allow(struct outfiles *o, const char *path, enum out_kind kind);

/* One file being written: straight to disk, or into memory until
 * out_close() hands it to the helper.  `o` may be NULL: write directly. */
struct outfile {
	FILE *f;
	char *buf;
	size_t len;
	struct outfiles *o;     /* NULL or no helper: f is the file itself */
	int idx;                /* allow-list entry (helper only) */
	char name[OUT_NAME_MAX];
};
/* Open PATH (name NULL: a registered file) or DIR/NAME (a registered
 * directory) for writing: the stream, or NULL with errno set. */
FILE *out_open(struct outfile *w, struct outfiles *o, const char *path, const char *name);
/* Finish the file: 0 or -errno (the helper's own errno when it wrote). */
int out_close(struct outfile *w);
/* mkdir(DIR, mode) of a registered directory: 0 or -errno (-EEXIST too). */
int out_mkdir(struct outfiles *o, const char *dir, unsigned mode);
/* `dot -Tsvg -o DIR/BASE.svg DIR/BASE.dot`: 0 (also when Graphviz is not
 * installed: no picture, no error) or -errno. */
int out_dot(struct outfiles *o, const char *dir, const char *base);

/* The protocol on the socket (here for the tests, which speak it as a
 * taken-over VMM would): a request, `namelen` bytes of name (no NUL), `len`
 * bytes of data; then one int32_t reply, 0 or -errno.  `idx` is the
 * allow-list entry.  Anything malformed ends the helper. */
enum { OUT_OP_WRITE = 1, OUT_OP_MKDIR, OUT_OP_DOT };
struct out_req {
	uint32_t op, idx, mode, namelen;
	uint64_t len;
};

/* Fork the helper (when there is anything to write): 0 or -errno.  It
 * keeps stdin/stdout/stderr and its socket, closes every other descriptor,
 * and exits when our end closes.  out_helper_stop() closes it and reaps it. */
int out_helper_start(struct outfiles *o);
void out_helper_stop(struct outfiles *o);

#endif /* COWVMM_OUTFILE_H */
