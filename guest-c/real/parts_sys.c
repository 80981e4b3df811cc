/* What real libraries ask of the system: entropy, sysconf, clocks. */
#include <time.h>
#include <unistd.h>

int entropy(unsigned char *out, int n) { return getentropy(out, (size_t)n); }
long page_size(void) { return sysconf(_SC_PAGESIZE); }
int clock_ok(void) {
    struct timespec a, b;
    if (clock_gettime(CLOCK_MONOTONIC, &a) != 0) return -1;
    if (clock_gettime(CLOCK_MONOTONIC, &b) != 0) return -2;
    if (clock_gettime(CLOCK_REALTIME, &a) != 0 || a.tv_sec <= 0) return -3;
    /* Monotonic: never earlier (the sandbox's virtual clock may not move between calls). */
    if (clock_gettime(CLOCK_MONOTONIC, &a) != 0) return -4;
    return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec);
}
