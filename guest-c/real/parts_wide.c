/* 128-bit and long double arithmetic: compiler-rt's builtins (__multi3, __udivti3,
 * __multf3), linked into the library as libgcc's are into a native one. */
unsigned long long mul_hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
unsigned long long div_wide(unsigned long long hi, unsigned long long lo, unsigned long long d) {
    return (unsigned long long)((((unsigned __int128)hi << 64) | lo) / d);
}
int long_double_ok(void) {
    volatile long double a = 1.5L, b = 4.0L;
    return (int)(a * b);
}
