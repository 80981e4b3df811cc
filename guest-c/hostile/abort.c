/* abort() and exit(3) inside library code. */
#include <stdlib.h>
int ok(void) { return 1; }
void do_abort(void) { abort(); }
void do_exit(void) { exit(3); }
/* Statuses WASI itself refuses (only 0..125 are valid there): natively the process ends with
   the status's low byte, 255, 255 and 200. */
#include <unistd.h>
void exit_minus_one(void) { exit(-1); }
void quick_exit_255(void) { _Exit(255); }
void raw_exit_200(void) { _exit(200); }
