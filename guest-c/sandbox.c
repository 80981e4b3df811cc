/* What a guest can see of the world: clocks, randomness, files, environment. */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>

/* Prints the clocks, rand() seeded from random_get, a NaN's bits and a heap address. */
void report(void) {
    struct timespec wall, mono;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    unsigned seed;
    getentropy(&seed, sizeof seed);
    srand(seed);
    volatile double zero = 0.0;
    double nan = zero / zero;
    uint64_t bits;
    memcpy(&bits, &nan, sizeof bits);
    void *p = malloc(24);
    printf("wall %lld.%09ld mono %lld.%09ld\n", (long long)wall.tv_sec, wall.tv_nsec, (long long)mono.tv_sec, mono.tv_nsec);
    printf("seed %u rand %d %d %d\n", seed, rand(), rand(), rand());
    printf("nan bits %016llx sqrt(-1) %f\n", (unsigned long long)bits, sqrt(-1.0 * (1 + zero)));
    printf("heap %p\n", p);
    free(p);
}

/* The first byte of a file, or -errno. */
int first_byte(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    unsigned char c;
    int n = (int)read(fd, &c, 1);
    close(fd);
    return n == 1 ? c : -1000;
}

/* Writes text to a file: 0, or -errno. */
int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -errno;
    fputs(text, f);
    fclose(f);
    return 0;
}

const char *get_env(const char *name) { return getenv(name); }
long long seconds_now(void) { return (long long)time(NULL); }

/* The bits of 0.0 / 0.0 computed at run time: canonical in the sandbox unless turned off. */
unsigned long long nan_bits(void) {
    volatile double zero = 0.0;
    double nan = zero / zero;
    unsigned long long bits;
    memcpy(&bits, &nan, sizeof bits);
    return bits;
}
