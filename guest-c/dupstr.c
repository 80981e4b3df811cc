/* Seed example: a strdup-style function that returns malloc'd memory the caller must
 * release with the library's own freeme(). */
#include <stdlib.h>
#include <string.h>

char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy != NULL) {
        memcpy(copy, s, n);
    }
    return copy;
}

void freeme(char *ptr) {
    free(ptr);
}
