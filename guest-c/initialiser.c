/* A library whose initialiser prints: its output belongs to the first call's report, never in
   front of a JSON document. */
#include <stdio.h>
__attribute__((constructor)) static void announce(void) { printf("loaded\n"); fflush(stdout); }
int seven(void) { printf("called\n"); return 7; }
