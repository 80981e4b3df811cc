/* A thread-local variable: one copy in a single-threaded sandbox, with its initial value. */
_Thread_local int tls_counter = 10;
int tls_next(void) { return ++tls_counter; }
