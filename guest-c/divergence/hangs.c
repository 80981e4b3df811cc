/* A corpus with native code that crashes and native code that never returns: the runner
   classifies both and goes on to the tests after them. `sizeof(long) == 8` is true natively
   only, so wasm returns at once. */
int test_before(void) { return 1; }
int test_loops_natively(void) {
    volatile int spin = sizeof(long) == 8;
    while (spin) {
    }
    return 0;
}
int test_crashes_natively(void) {
    if (sizeof(long) == 8) {
        volatile int *p = 0;
        return *p;
    }
    return 2;
}
int test_after(void) { return 3; }
