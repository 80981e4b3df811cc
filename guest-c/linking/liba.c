/* One of two libraries loaded into one sandbox (tests/it/linking.rs): it makes objects the
 * other one reads and frees, and holds static data the other one reads. */
#include <stdlib.h>
#include <string.h>

struct pair {
    int id;
    char name[12];
    double weight;
};

int a_counter = 7;
const char a_motto[] = "from a";

/* A structure from libc's malloc: liba.c makes it, libb.c frees it. */
struct pair *pair_new(int id, const char *name, double weight) {
    struct pair *p = malloc(sizeof *p);
    if (!p)
        return 0;
    p->id = id;
    strncpy(p->name, name, sizeof p->name - 1);
    p->name[sizeof p->name - 1] = 0;
    p->weight = weight;
    return p;
}

const char *a_motto_ptr(void) { return a_motto; }
int *a_counter_ptr(void) { return &a_counter; }
int a_add_to(int *p, int n) { *p += n; return *p; }

/* A function pointer of this library, called from the other one. */
static int twice(int x) { return 2 * x; }
int (*a_twice(void))(int) { return twice; }
