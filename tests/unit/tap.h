/* tests/unit/tap.h — the one TAP producer of the C unit tests: test points counted, the plan printed at the end. */
#ifndef COWVMM_TAP_H
#define COWVMM_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failures;

__attribute__((format(printf, 5, 6), unused))
static int tap_ok_(int cond, const char *expr, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	tap_count++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failures++;
		printf("#   failed: %s (%s:%d)\n", expr, file, line);
	}
	fflush(stdout);
	return cond;
}

/* One test point: "ok N - msg" or "not ok N - msg".  The condition is
 * evaluated once, before the message's arguments (it may run an audit that
 * sets them).  Evaluates to the condition. */
#define ok(cond, ...) ({ int ok_ = !!(cond); tap_ok_(ok_, #cond, __FILE__, __LINE__, __VA_ARGS__); })
#define OK(cond, ...) ((void)ok(cond, __VA_ARGS__))

/* A test point on equality, showing both values when they differ. */
#define EQ(a, b, ...) do { \
	unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
	if (!ok(a_ == b_, __VA_ARGS__)) \
		printf("#   got 0x%llx, expected 0x%llx\n", a_, b_); \
} while (0)

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

/* Print the plan (counted, never written by hand); the program's exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* COWVMM_TAP_H */
