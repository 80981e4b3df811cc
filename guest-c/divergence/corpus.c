/* Native versus sandboxed: tests that behave the same, and tests that differ for a known
 * reason. Every test takes no arguments; `expect_test_X` declares the class of a difference.
 * The runner: wasmctypes diff guest-c/divergence/corpus.c */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the same on both backends ---- */
int test_add(void) { return 2 + 3; }
long long test_int_overflow_wraps(void) { unsigned int x = 0xffffffffu; return (long long)(x + 1u); }
double test_float_math(void) { return sqrt(2.0) * 3.0; }
int test_string_ops(void) { char buf[32]; strcpy(buf, "hello"); strcat(buf, " world"); return (int)strlen(buf); }
int test_printf(void) { printf("sum=%d\n", 40 + 2); return 0; }
int test_qsort(void) {
    int v[] = { 5, 3, 9, 1 };
    int cmp(const void *a, const void *b);
    qsort(v, 4, sizeof v[0], cmp);
    return v[0] * 1000 + v[3];
}
int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int zeroed[4];
int test_static_is_zero(void) { return zeroed[0] + zeroed[3]; }
long long test_long_long(void) { return 1LL << 40; }

/* ---- data model: long, pointers and size_t are 4 bytes in wasm32, 8 natively ---- */
const char *expect_test_long_overflow = "data-model";
long long test_long_overflow(void) { long x = 0x7fffffffL; x += 1; return (long long)x; }
const char *expect_test_sizeof_long = "data-model";
long long test_sizeof_long(void) { return (long long)(sizeof(long) * 1000000000ULL * 5); }
const char *expect_test_size_t_wrap = "data-model";
long long test_size_t_wrap(void) { size_t s = 0; s -= 1; return (long long)s; }
const char *expect_test_pointer_to_int = "data-model";
long long test_pointer_to_int(void) { char *p = (char *)(intptr_t)-1; return (long long)(uintptr_t)p; }

/* ---- the sandbox catches what native misses or dies of ---- */
const char *expect_test_buffer_overflow = "sandbox-caught";
char *volatile escaped;
long long test_buffer_overflow(void) {
    /* Writes 2 GiB past a heap block: in wasm that is past the end of linear memory and
     * traps; natively it lands wherever the address happens to be. */
    char *p = malloc(16);
    escaped = p;
    volatile size_t far = (size_t)1 << 31;
    p[far] = 1;
    return p[0];
}
/* A copy loop whose start index went negative: it overwrites 64 bytes 128 KiB below a stack
 * buffer. Natively that is unused stack, mapped on demand, so the write corrupts it silently
 * and the test returns. In wasm the shadow stack sits at the bottom of linear memory
 * (--stack-first), so the address wraps past 4 GiB and the store traps out of bounds. */
const char *expect_test_stack_overflow_silent = "sandbox-caught";
int test_stack_overflow_silent(void) {
    volatile char buf[16];
    volatile long start = -128 * 1024;
    for (long i = 0; i < 64; i++) buf[start + i] = 'A';
    buf[0] = 1;
    return buf[0];
}
const char *expect_test_abort = "sandbox-caught";
int test_abort(void) { __builtin_trap(); }
const char *expect_test_null_function = "sandbox-caught";
int test_null_function(void) { int (*volatile f)(void) = 0; return f(); }

/* ---- native catches what the sandbox does not: address 0 is ordinary memory in wasm ---- */
const char *expect_test_null_read = "native-caught";
int test_null_read(void) { volatile int *p = 0; return p[4]; }
const char *expect_test_null_write = "native-caught";
int test_null_write(void) { volatile int *p = 0; p[8] = 7; return 0; }

/* ---- floats: only a NaN's sign or payload differs ---- */
const char *expect_test_nan_sign = "float";
double test_nan_sign(void) { volatile double z = 0.0; return -(z / z); }

/* ---- environment: the sandbox's clock is virtual ---- */
const char *expect_test_clock = "environment";
long long test_clock(void) { return (long long)time(NULL) / 1000000; }
const char *expect_test_random = "environment";
int test_random(void) { unsigned r; getentropy(&r, sizeof r); return (int)(r & 0x7fffffff); }

/* ---- an uninitialised read: what the stack held before, the garbage of an earlier frame on
 * both backends, but another slot of it (the frames are laid out differently). No class fits:
 * it is declared, so the runner reports it without failing. ---- */
const char *expect_test_uninitialised_read = "unexplained";
static int __attribute__((noinline)) leave_garbage(void) { volatile int junk[64]; for (int i = 0; i < 64; i++) junk[i] = 0x5a5a5a5a + i; return junk[3]; }
static int __attribute__((noinline)) read_uninit(void) { volatile int fresh[16]; return fresh[5]; }
int test_uninitialised_read(void) { leave_garbage(); return read_uninit(); }
