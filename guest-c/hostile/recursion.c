/* Recurses without end. The call goes through a volatile function pointer so that the
 * compiler cannot turn it into a loop. */
int ok(void) { return 1; }
int recurse(int n);
int (*volatile self)(int) = recurse;
int recurse(int n) { return self(n + 1) + n; }
