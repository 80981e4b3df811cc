/* Integer division by zero. */
int ok(void) { return 1; }
int divide(int a, int b) { return a / b; }
