/* guest/lib/string.c — memory and string helpers for the kernel and user programs (the compiler may call memcpy/memset itself). */
#include <stddef.h>
#include <stdint.h>

#include "guestlib.h"

/* Eight bytes per step, then the tail: fewer iterations than byte strings. */
void *memset(void *d, int c, size_t n)
{
	void *r = d;
	uint64_t v = 0x0101010101010101ull * (unsigned char)c;
	size_t q = n / 8, t = n % 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(t) : "a"(v) : "memory");
	return r;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;
	size_t q = n / 8, t = n % 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(t) : : "memory");
	return r;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strcpy(char *d, const char *s)
{
	char *r = d;
	while ((*d++ = *s++))
		;
	return r;
}

/* Copy at most n-1 bytes and always terminate. */
char *strncpy_safe(char *d, const char *s, size_t n)
{
	size_t i = 0;
	if (!n)
		return d;
	for (; i + 1 < n && s[i]; i++)
		d[i] = s[i];
	d[i] = '\0';
	return d;
}

long atol(const char *s)
{
	long v = 0;
	int neg = 0;
	while (*s == ' ')
		s++;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return neg ? -v : v;
}
