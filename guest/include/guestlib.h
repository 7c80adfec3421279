/* guest/include/guestlib.h — the guest's shared library (guest/lib): memory, string and formatting helpers for the kernel and user programs. */
#ifndef COWVMM_GUESTLIB_H
#define COWVMM_GUESTLIB_H

#include <stdarg.h>
#include <stddef.h>

/* guest/lib/string.c (the compiler may call memcpy/memset itself). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *d, const char *s);
/* Copy at most n-1 bytes and always terminate (n > 0). */
char *strncpy_safe(char *d, const char *s, size_t n);
long atol(const char *s);

/* guest/lib/vsnprintf.c (no floating point). */
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
