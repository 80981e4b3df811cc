/* A library's life in a process: its constructor runs at load; what it registers with atexit
 * and its destructor run when the process exits, and what it printed is flushed then. */
#include <stdio.h>
#include <stdlib.h>

static void on_exit_handler(void) { printf("atexit handler ran\n"); }

__attribute__((constructor)) static void loaded(void) {
    atexit(on_exit_handler);
    printf("constructor ran\n");
}

__attribute__((destructor)) static void unloaded(void) { printf("destructor ran\n"); }

int lifecycle_alive(void) { return 1; }
