/* Prototypes with every kind of C type, for reading them from debug information and
 * checking bindings against them. Each function returns something computed from all of its
 * parameters, so that a binding that passes them wrongly gets a wrong answer. */
#include <stdarg.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

typedef unsigned int flags_t;

enum color { RED, GREEN = 5, BLUE = -1 };

struct point {
    int x;
    int y;
};

typedef struct point point_t;

struct record {
    char name[8];
    double weight;
    long count;
    struct point at;
    unsigned int kind : 3;
    unsigned int live : 1;
};

union number {
    int i;
    double d;
};

typedef int (*binop)(int, int);

signed char ps_schar(signed char a, unsigned char b, char c) { return (signed char)(a + b + c); }
short ps_short(short a, unsigned short b) { return (short)(a + b); }
unsigned int ps_uint(int a, unsigned int b, flags_t f) { return (unsigned)a + b + f; }
long ps_long(long a, unsigned long b) { return a + (long)b; }
long long ps_llong(long long a, unsigned long long b) { return a + (long long)b; }
size_t ps_size(size_t n, ptrdiff_t d, ssize_t s) { return n + (size_t)d + (size_t)s; }
int64_t ps_fixed(int8_t a, uint16_t b, int32_t c, uint64_t d, int64_t e) { return a + b + c + (int64_t)d + e; }
_Bool ps_bool(_Bool b) { return !b; }
float ps_float(float f, double d) { return f + (float)d; }
double ps_double(double d, long double l) { return d + (double)l; }
wchar_t ps_wchar(wchar_t c) { return c + 1; }
int ps_enum(enum color c) { return (int)c; }

size_t ps_strlen(const char *s) { return strlen(s); }
char *ps_greeting(void) { return "hello"; }
const unsigned char *ps_bytes(void) { return (const unsigned char *)"\x01\x02"; }
void *ps_identity(void *p) { return p; }
size_t ps_wcslen(const wchar_t *s) { return wcslen(s); }
void ps_fill(int *out, size_t n) { for (size_t i = 0; i < n; i++) out[i] = (int)i; }
void ps_store_size(size_t *out) { *out = sizeof(size_t); }
int ps_sum_rows(int rows[][3], int n) { int s = 0; for (int i = 0; i < n; i++) s += rows[i][0]; return s; }

int ps_point_sum(const struct point *p) { return p->x + p->y; }
point_t ps_point_make(int x, int y) { point_t p = {x, y}; return p; }
int ps_point_by_value(struct point p) { return p.x * p.y; }
double ps_record_weight(const struct record *r) { return r->weight + (double)r->count + r->kind; }
int ps_union(union number *n) { return n->i; }

int ps_apply(binop f, int a, int b) { return f(a, b); }

int ps_sum_ints(int n, ...) {
    va_list ap;
    va_start(ap, n);
    int s = 0;
    for (int i = 0; i < n; i++) s += va_arg(ap, int);
    va_end(ap);
    return s;
}

void ps_nothing(void) {}

/* A structure whose last member leaves tail padding, and one with a gap after its first. */
struct tail {
    double d;
    char c;
};
struct gap {
    char c;
    int i;
};
double ps_tail(const struct tail *t) { return t->d + t->c; }
int ps_gap(const struct gap *g) { return g->c + g->i; }
