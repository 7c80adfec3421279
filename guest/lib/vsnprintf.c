/* guest/lib/vsnprintf.c — printf formatting for the kernel and user programs (no floating point). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "guestlib.h"

struct out {
	char *buf;
	size_t n, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int neg, int width, char pad, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[i++] = '-';
	if (neg && pad == '0') {
		/* sign goes before zero padding */
		put(o, '-');
		i--;
		width--;
	}
	for (int w = i; w < width; w++)
		put(o, pad);
	while (i)
		put(o, tmp[--i]);
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		int alt = 0, left = 0, width = 0, lng = 0;
		char pad = ' ';
		for (;; p++) {
			if (*p == '#')
				alt = 1;
			else if (*p == '-')
				left = 1;
			else if (*p == '0')
				pad = '0';
			else
				break;
		}
		if (*p == '*') {
			width = va_arg(ap, int);
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l' || *p == 'z' || *p == 'j') {
			lng++;
			p++;
		}
		size_t start = o.len;
		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, left ? 0 : width, pad, 0);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			unsigned base = *p == 'u' ? 10 : 16;
			if (alt && base == 16 && v) {
				put(&o, '0');
				put(&o, 'x');
			}
			put_num(&o, v, base, 0, left ? 0 : width, pad, *p == 'X');
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)va_arg(ap, void *), 16, 0, 0, ' ', 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t l = 0;
			while (s[l])
				l++;
			if (!left)
				for (size_t w = l; w < (size_t)width; w++)
					put(&o, ' ');
			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
		if (left)
			while (o.len - start < (size_t)width)
				put(&o, ' ');
	}
	if (n)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}
