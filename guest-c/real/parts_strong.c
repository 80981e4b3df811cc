/* The strong definition that overrides parts_weak.c's weak one. */
int tunable(void) { return 3; }
