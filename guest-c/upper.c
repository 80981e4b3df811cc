/* Seed example: uppercase a buffer in place. Loops i <= len as the original does, so it
 * also touches the byte at chars[len] (the NUL of a create_string_buffer). */
#include <ctype.h>

void upper(char *chars, int len) {
    int i;
    for (i = 0; i <= len; i++) {
        chars[i] = toupper(chars[i]);
    }
}
