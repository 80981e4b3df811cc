/* C that computes for a while, and C that calls back from a thread of its own: for the tests
   of threads, the GIL and callbacks (python/tests/test_threads.py). */
#include <stdint.h>
#ifndef __wasm__
#include <pthread.h>
#endif

/* Runs n rounds of a loop the compiler cannot remove, and returns a checksum of them. */
uint64_t spin(uint64_t n) {
    volatile uint64_t x = 1;
    for (uint64_t i = 0; i < n; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x;
}

typedef int (*int_fn)(int);

struct job { int_fn cb; int x; int result; };

#ifndef __wasm__
static void *run_job(void *arg) {
    struct job *j = arg;
    j->result = j->cb(j->x);
    return 0;
}
#endif

/* cb(x), called from a thread of its own, joined before this returns (natively; a wasm
   sandbox has one thread, so there it is called here). Returns -1 if no thread could be
   made. */
int call_in_thread(int_fn cb, int x) {
    struct job j = { cb, x, 0 };
#ifndef __wasm__
    pthread_t t;
    if (pthread_create(&t, 0, run_job, &j) != 0) return -1;
    pthread_join(t, 0);
#else
    j.result = cb(x);
#endif
    return j.result;
}

/* cb(0) + cb(1) + ... + cb(n - 1). */
int sum_of(int_fn cb, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += cb(i);
    return s;
}

int add(int a, int b) { return a + b; }

/* What C's own `&sum_of` is: a function pointer compares equal to ctypes'
   `cast(lib.sum_of, c_void_p).value`. */
void *address_of_sum_of(void) { return (void *)sum_of; }

/* Calls f(a, b) through the pointer C is given. */
int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
