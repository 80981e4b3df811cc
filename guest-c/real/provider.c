/* Data and a function pointer that another library (user.c) refers to. */
int provider_table[4] = {2, 3, 5, 7};
static int twice(int x) { return 2 * x; }
int (*provider_op)(int) = twice;
const char *provider_names[] = {"alpha", "beta"};
