/* The second library of the pair (see liba.c): it reads and frees what liba.c made, reads its
 * static data through pointers and by name, and calls libc. Loaded after liba. */
#include <stdlib.h>
#include <string.h>

struct pair {
    int id;
    char name[12];
    double weight;
};

/* Defined by liba, found when libb is loaded after it (RTLD_GLOBAL). */
extern int a_counter;

double pair_take(struct pair *p) {
    double total = p->weight + p->id + (double)strlen(p->name);
    free(p);
    return total;
}

size_t b_strlen(const char *s) { return strlen(s); }
int b_read_int(const int *p) { return *p; }
int b_add_to(int *p, int n) { *p += n; return *p; }
int b_reads_a_counter(void) { return a_counter; }
int b_call(int (*f)(int), int x) { return f(x); }

/* A string from libc's strdup: the caller frees it with libc's free. */
char *b_dup(const char *s) { return strdup(s); }
