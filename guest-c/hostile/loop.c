/* Never returns. */
int ok(void) { return 1; }
/* Runs n iterations, then returns n: a call whose fuel grows with n. */
unsigned burn(unsigned n) {
    volatile unsigned i = 0;
    while (i < n) i++;
    return n;
}
void spin(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
