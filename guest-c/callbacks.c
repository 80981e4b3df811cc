/* Callbacks: C calling back into the host through function pointers. */
#include <stdlib.h>

typedef int (*cmp_t)(const void *, const void *);

/* libc's qsort with the caller's comparator (wasi-libc does not export qsort itself). */
void sort_ints(int *values, int n, cmp_t cmp) { qsort(values, (size_t)n, sizeof(int), cmp); }
int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
double apply_d(double (*f)(double), double x) { return f(x); }
/* A long double through a callback and back: f(x) + 1, computed in long double. */
long double apply_ld(long double (*f)(long double), long double x) { return f(x) + 1; }
int sum_with(int (*f)(int), int n) { int s = 0; for (int i = 0; i < n; i++) s += f(i); return s; }
/* Calls f once per element with a pointer into the caller's array. */
void each_ptr(int *values, int n, void (*f)(int *)) { for (int i = 0; i < n; i++) f(&values[i]); }
/* A callback kept by the library and called later from a function of plain ints: the call
   that runs it takes the scalar fast path. */
static int (*kept)(int);
void keep(int (*f)(int)) { kept = f; }
int call_kept(int x) { return kept(x); }
/* A callback with char, bool and float arguments: ctypes hands them to Python as bytes, bool
   and float. */
int classify(int (*f)(char, _Bool, float), char c) { return f(c, c == 'y', 1.5f); }
/* Function pointers as values: returned, stored in a structure, passed to a callback. */
typedef int (*binop)(int, int);
static int c_add(int a, int b) { return a + b; }
static int c_mul(int a, int b) { return a * b; }
binop pick(int which) { return which ? c_mul : c_add; }
struct Ops { binop op; int bias; };
int run_ops(const struct Ops *o, int a, int b) { return o->op(a, b) + o->bias; }
int call_with(int (*cb)(binop, int), int x) { return cb(c_mul, x); }
/* Structures passed to a callback by value: an aggregate (by pointer in wasm32), and a
 * single-scalar one (as its scalar in wasm32). The caller's copies must not change. */
struct Big { long a, b, c; };
struct One { int v; };
long call_big(long (*f)(struct Big), long a) {
    struct Big s = {a, a * 2, a * 3};
    long r = f(s);
    return s.a == a && s.b == a * 2 && s.c == a * 3 ? r : -1;
}
int call_one(int (*f)(struct One)) { struct One o = {7}; return f(o); }
