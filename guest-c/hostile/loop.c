/* Never returns. */
int ok(void) { return 1; }
void spin(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
