/* Relocations against another library's data and function pointers, resolved at load. */
#include <string.h>

extern int provider_table[];
extern int (*provider_op)(int);
extern const char *provider_names[];

static int *table_ref = provider_table;
static int (**op_ref)(int) = &provider_op;

int use_table(void) { return table_ref[0] + table_ref[3]; }
int use_op(int x) { return (*op_ref)(x); }
size_t use_names(void) { return strlen(provider_names[1]); }
int (*user_get_op(void))(int) { return provider_op; }
int call_op(int (*f)(int), int x) { return f(x); }
