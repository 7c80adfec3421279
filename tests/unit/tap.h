/* tests/unit/tap.h — minimal TAP producer for the C unit tests (plan printed at the end). */
#ifndef COWVMM_TAP_H
#define COWVMM_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failures;

/* One test point: "ok N - msg" or "not ok N - msg". Evaluates to cond. */
#define ok(cond, ...) tap_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 4, 5)))
static inline int tap_ok_(int cond, const char *file, int line, const char *fmt, ...)
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
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

/* Print the plan; the test program's exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* COWVMM_TAP_H */
