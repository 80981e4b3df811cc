/* Constructors run at load, in priority order, as dlopen runs them; a destructor is
 * registered too (it runs at unload). */
int initialised;
static int order[4];
static int n_order;
int finalised;

__attribute__((constructor(101))) static void first(void) { order[n_order++] = 1; }
__attribute__((constructor(102))) static void second(void) {
    order[n_order++] = 2;
    initialised = 42;
}
__attribute__((destructor)) static void last(void) { finalised = 1; }

int init_value(void) { return initialised; }
int init_order(void) { return n_order == 2 && order[0] == 1 && order[1] == 2; }
