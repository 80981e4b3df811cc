/* A call through a NULL function pointer. */
int ok(void) { return 1; }
int call_null(void) {
    int (*volatile f)(void) = 0;
    return f();
}
