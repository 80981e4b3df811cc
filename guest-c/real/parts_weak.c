/* Weak symbols: a weak definition another object overrides, one nothing overrides, and a weak
 * reference nothing defines (a null address). */
__attribute__((weak)) int tunable(void) { return 1; }
__attribute__((weak)) int fallback(void) { return 7; }
extern int absent(void) __attribute__((weak));
int weak_result(void) { return tunable() * 100 + fallback() * 10 + (absent ? 1 : 0); }
