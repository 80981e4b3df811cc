/* abort() and exit(3) inside library code. */
#include <stdlib.h>
int ok(void) { return 1; }
void do_abort(void) { abort(); }
void do_exit(void) { exit(3); }
