/* Allocates and touches memory until the sandbox says no. The blocks escape into a global so
 * that the compiler cannot drop the allocations. */
#include <stdlib.h>
#include <string.h>
int ok(void) { return 1; }
char *volatile last_block;
int bomb(void) {
    int blocks = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (p == NULL) return -blocks;
        memset(p, 1, 1 << 20);
        last_block = p;
        blocks++;
    }
}
