/* Seed example: print a greeting. */
#include <stdio.h>

void greet(char *somebody) {
    printf("Hello, %s!\n", somebody);
}
