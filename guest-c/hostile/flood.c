/* Writes 100 MB to stdout. */
#include <stdio.h>
#include <string.h>
int ok(void) { return 1; }
void flood(void) {
    static char line[1 << 16];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 2] = '\n';
    for (int i = 0; i < 1600; i++) fputs(line, stdout);
}
