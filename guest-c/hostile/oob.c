/* Stores far outside the guest's memory. */
int ok(void) { return 1; }
void oob_store(void) { *(volatile int *)0xfffffff0u = 1; }
