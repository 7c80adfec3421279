/* tests/unit/test-gmem.c — bounds of gmem_ptr() and gmem_read_str(): edges, wrap-around, len 0, unterminated strings. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "cowvmm/abi.h"
#include "guest_mem.h"

#define RAM (4ull << 20)

static void test_init(void)
{
	struct gmem m;
	ok(gmem_init(&m, 0) == -EINVAL && m.base == NULL, "gmem_init refuses size 0");
	ok(gmem_init(&m, 4097) == -EINVAL && m.base == NULL, "gmem_init refuses a size that is not a page multiple");
	ok(gmem_ptr(&m, 0, 0) == NULL, "gmem_ptr on an unmapped gmem is NULL");
	char s[4];
	ok(gmem_read_str(&m, 0, s, sizeof s) == -1, "gmem_read_str on an unmapped gmem fails");
}

static void test_ptr(struct gmem *m)
{
	uint64_t sz = m->size;
	ok(gmem_ptr(m, 0, sz) == m->base, "whole RAM [0, size) is valid");
	ok(gmem_ptr(m, 0, sz + 1) == NULL, "[0, size+1) is refused");
	ok(gmem_ptr(m, sz - 1, 1) == m->base + sz - 1, "last byte is valid");
	ok(gmem_ptr(m, sz - 1, 2) == NULL, "last byte + 1 is refused");
	ok(gmem_ptr(m, sz, 0) == m->base + sz, "len 0 at gpa == size is valid (empty range)");
	ok(gmem_ptr(m, sz, 1) == NULL, "1 byte at gpa == size is refused");
	ok(gmem_ptr(m, sz + 1, 0) == NULL, "len 0 beyond RAM is refused");
	ok(gmem_ptr(m, 0, 0) == m->base, "len 0 at gpa 0 is valid");
	ok(gmem_ptr(m, UINT64_MAX, 2) == NULL, "gpa near 2^64 is refused (no wrap)");
	ok(gmem_ptr(m, 16, UINT64_MAX) == NULL, "len near 2^64 is refused (no wrap)");
	ok(gmem_ptr(m, UINT64_MAX - 15, 32) == NULL, "gpa + len wrapping to a small value is refused");
	ok(gmem_ptr(m, 4096, sz - 4096) != NULL && gmem_ptr(m, 4096, sz - 4095) == NULL,
	   "range ending exactly at the end of RAM is valid, one more byte is not");
}

static void test_str(struct gmem *m)
{
	uint64_t sz = m->size;
	char out[16];
	memcpy(m->base + 100, "hello", 6);
	ok(gmem_read_str(m, 100, out, sizeof out) == 5 && strcmp(out, "hello") == 0, "plain string read");
	m->base[200] = 0;
	ok(gmem_read_str(m, 200, out, sizeof out) == 0 && out[0] == 0, "empty string read");
	ok(gmem_read_str(m, 100, out, 0) == -1, "outsz 0 fails");
	ok(gmem_read_str(m, 200, out, 1) == 0, "empty string fits outsz 1");
	ok(gmem_read_str(m, 100, out, 6) == 5 && strcmp(out, "hello") == 0, "string of outsz-1 bytes fits");
	memset(out, 'x', sizeof out);
	ok(gmem_read_str(m, 100, out, 5) == -1, "string longer than outsz-1 fails");
	/* Unterminated at the very end of RAM. */
	memset(m->base + sz - 8, 'A', 8);
	ok(gmem_read_str(m, sz - 8, out, sizeof out) == -1, "string running off the end of RAM fails");
	m->base[sz - 1] = 0;
	ok(gmem_read_str(m, sz - 8, out, sizeof out) == 7 && strcmp(out, "AAAAAAA") == 0,
	   "string whose NUL is the last byte of RAM is read");
	ok(gmem_read_str(m, sz - 1, out, sizeof out) == 0, "empty string at the last byte");
	ok(gmem_read_str(m, sz, out, sizeof out) == -1, "gpa == size fails");
	ok(gmem_read_str(m, UINT64_MAX, out, sizeof out) == -1, "gpa near 2^64 fails");
	/* A long run of non-NUL bytes inside RAM: never terminated within outsz. */
	memset(m->base + 4096, 'B', 4096);
	ok(gmem_read_str(m, 4096, out, sizeof out) == -1, "unterminated within outsz fails");
}

int main(void)
{
	struct gmem m;
	test_init();
	if (!ok(gmem_init(&m, RAM) == 0 && m.size == RAM, "gmem_init of 4 MiB"))
		return tap_done();
	ok(m.base[0] == 0 && m.base[RAM - 1] == 0, "guest RAM starts zeroed");
	test_ptr(&m);
	test_str(&m);
	gmem_free(&m);
	ok(m.base == NULL && m.size == 0, "gmem_free resets the gmem");
	gmem_free(&m);
	ok(1, "gmem_free twice is harmless");
	return tap_done();
}
