/* Test library: one function per conversion rule, used by tests/ on both backends. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <wchar.h>
#include <stdlib.h>

int add(int a, int b) { return a + b; }
unsigned int add_uint(unsigned int a, unsigned int b) { return a + b; }
signed char neg_byte(signed char c) { return (signed char)-c; }
unsigned char ubyte_id(unsigned char c) { return c; }
short short_id(short s) { return s; }
unsigned short ushort_id(unsigned short s) { return s; }
long long_id(long v) { return v; }
unsigned long ulong_id(unsigned long v) { return v; }
long long longlong_id(long long v) { return v; }
unsigned long long ulonglong_id(unsigned long long v) { return v; }
size_t size_id(size_t v) { return v; }
int64_t i64_mul(int64_t a, int64_t b) { return a * b; }
_Bool is_nonzero(int v) { return v != 0; }
char next_char(char c) { return (char)(c + 1); }
float half_f(float x) { return x / 2.0f; }
double mix(int a, double b, float c, long long d, char e, double f) {
    return a + b + c + (double)d + e + f;
}
double scale(double x, int times) { return x * times; }
int str_len(const char *s) { return (int)strlen(s); }
/* Both strings intact and apart: their lengths, as strlen(a) * 10000 + strlen(b). */
int two_lengths(const char *a, const char *b) { return (int)(strlen(a) * 10000 + strlen(b)); }
const char *hello(void) { return "hello from C"; }
const char *null_string(void) { return NULL; }
void *null_pointer(void) { return NULL; }
int is_null(const void *p) { return p == NULL; }
int wide_len(const wchar_t *s) { return (int)wcslen(s); }
const wchar_t *wide_hello(void) { return L"h\u00e9llo"; }
void say(const char *s) { printf("%s\n", s); fprintf(stderr, "err:%s\n", s); }
size_t sizeof_long(void) { return sizeof(long); }
size_t sizeof_pointer(void) { return sizeof(void *); }
/* The data model shows: ULONG_MAX + 1 wraps at 32 bits in wasm32, not natively. */
unsigned long long ulong_max_plus_one(void) { unsigned long x = (unsigned long)-1; return (unsigned long long)x + 1; }
int divide(int a, int b) { return a / b; }
void crash_unreachable(void) { __builtin_trap(); }
int deref(const int *p) { return *p; }
void fill(int *out, int n, int v) { for (int i = 0; i < n; i++) out[i] = v + i; }
/* Uses 4 KiB of shadow stack, then traps: repeated, it shows the stack is restored. */
int trap_with_frame(int n) {
    volatile char buf[4096];
    buf[n & 4095] = 1;
    if (n >= 0) __builtin_trap();
    return buf[0];
}
void set_int(int *p, int v) { *p = v; }
/* Allocates n bytes and touches the last one, growing linear memory in wasm. */
char *grow(size_t n) { char *p = malloc(n); if (p) p[n - 1] = 42; return p; }
/* Exported data, read and written from the host with in_dll. */
int an_integer = 42;
const char *a_string = "a global string";
int get_an_integer(void) { return an_integer; }
int *int_array(void) { static int a[3] = { 1, 2, 3 }; return a; }
int *null_int_pointer(void) { return 0; }
void noop(void) {}
int shout(int n) { printf("%d\n", n); return n * 2; }
/* Seven integers, one more than x86-64 passes in registers: natively the seventh goes on the
   stack. Each is weighed by its position, so an argument in the wrong place shows. */
long long weigh7(int a, int b, int c, int d, int e, int f, int g) {
    return a + 2LL * b + 3LL * c + 4LL * d + 5LL * e + 6LL * f + 7LL * g;
}
/* Floats and integers interleaved: natively each class fills its own registers in order. */
double interleave(double a, int b, float c, long long d, double e, int f, float g, double h) {
    return a + 2 * b + 4 * c + 8 * d + 16 * e + 32 * f + 64 * g + 128 * h;
}
