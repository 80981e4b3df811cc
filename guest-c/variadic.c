/* Variadic functions: printf-style calls. */
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>

int myprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

/* Formats into the caller's buffer, so the result can be compared without stdout. */
int myformat(char *out, int size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, (size_t)size, fmt, ap);
    va_end(ap);
    return n;
}

long long sum_longlongs(int n, ...) {
    va_list ap;
    va_start(ap, n);
    long long s = 0;
    for (int i = 0; i < n; i++) s += va_arg(ap, long long);
    va_end(ap);
    return s;
}

double average(int n, ...) {
    va_list ap;
    va_start(ap, n);
    double s = 0;
    for (int i = 0; i < n; i++) s += va_arg(ap, double);
    va_end(ap);
    return n ? s / n : 0;
}

/* errno set by C, read by the host (and the reverse). */
int fail_with(int code) { errno = code; return -1; }
int read_errno(void) { return errno; }
long parse_long(const char *s) { errno = 0; return strtol(s, NULL, 10); }
int erange(void) { return ERANGE; }
