/* What CPython's ctypes test suite calls in its `_ctypes_test` library, written from what the
 * tests expect (python -m wasmctypes.selftest loads it as `_ctypes_test`). Not CPython's
 * source: every function here is specified by the assertions that call it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- test_cfuncs: tf_X(arg) returns arg / 3 and records the argument. ---- */
long long last_tf_arg_s;
unsigned long long last_tf_arg_u;

#define S(x) (last_tf_arg_s = (long long)(x), (x) / 3)
#define U(x) (last_tf_arg_u = (unsigned long long)(x), (x) / 3)

signed char tf_b(signed char c) { return S(c); }
unsigned char tf_B(unsigned char c) { return U(c); }
short tf_h(short c) { return S(c); }
unsigned short tf_H(unsigned short c) { return U(c); }
int tf_i(int c) { return S(c); }
unsigned int tf_I(unsigned int c) { return U(c); }
long tf_l(long c) { return S(c); }
unsigned long tf_L(unsigned long c) { return U(c); }
long long tf_q(long long c) { return S(c); }
unsigned long long tf_Q(unsigned long long c) { return U(c); }
float tf_f(float c) { return S(c); }
double tf_d(double c) { return S(c); }
long double tf_D(long double c) { return S(c); }

signed char tf_bb(signed char x, signed char c) { (void)x; return S(c); }
unsigned char tf_bB(signed char x, unsigned char c) { (void)x; return U(c); }
short tf_bh(signed char x, short c) { (void)x; return S(c); }
unsigned short tf_bH(signed char x, unsigned short c) { (void)x; return U(c); }
int tf_bi(signed char x, int c) { (void)x; return S(c); }
unsigned int tf_bI(signed char x, unsigned int c) { (void)x; return U(c); }
long tf_bl(signed char x, long c) { (void)x; return S(c); }
unsigned long tf_bL(signed char x, unsigned long c) { (void)x; return U(c); }
long long tf_bq(signed char x, long long c) { (void)x; return S(c); }
unsigned long long tf_bQ(signed char x, unsigned long long c) { (void)x; return U(c); }
float tf_bf(signed char x, float c) { (void)x; return S(c); }
double tf_bd(signed char x, double c) { (void)x; return S(c); }
long double tf_bD(signed char x, long double c) { (void)x; return S(c); }
void tv_i(int c) { last_tf_arg_s = c; }

/* ---- test_functions: the sum of all arguments, in the result's type. ---- */
int _testfunc_i_bhilfd(signed char b, short h, int i, long l, float f, double d) {
    return (int)(b + h + i + l + f + d);
}
float _testfunc_f_bhilfd(signed char b, short h, int i, long l, float f, double d) {
    return (float)(b + h + i + l + f + d);
}
double _testfunc_d_bhilfd(signed char b, short h, int i, long l, float f, double d) {
    return (double)(b + h + i + l + f + d);
}
long double _testfunc_D_bhilfD(signed char b, short h, int i, long l, float f, long double d) {
    return (long double)(b + h + i + l + f + d);
}
long long _testfunc_q_bhilfd(signed char b, short h, int i, long l, float f, double d) {
    return (long long)(b + h + i + l + f + d);
}
long long _testfunc_q_bhilfdq(signed char b, short h, int i, long l, float f, double d, long long q) {
    return (long long)(b + h + i + l + f + d + q);
}
void _testfunc_v(int a, int b, int *presult) { *presult = a + b; }
void *_testfunc_p_p(void *s) { return s; }
char *_testfunc_c_p_p(int *argcp, char **argv) { return argv[*argcp - 1]; }
int _testfunc_ai8(int a[8]) { return a[0]; }

/* The callback is called with value, value / 2, ... until 0; the results are summed. */
int _testfunc_callback_i_if(int value, int (*func)(int)) {
    int sum = 0;
    while (value != 0) {
        sum += func(value);
        value /= 2;
    }
    return sum;
}
long long _testfunc_callback_q_qf(long long value, long long (*func)(long long)) {
    long long sum = 0;
    while (value != 0) {
        sum += func(value);
        value /= 2;
    }
    return sum;
}
int _testfunc_callback_with_pointer(int (*func)(int *)) {
    int table[10];
    for (int i = 0; i < 10; i++)
        table[i] = i;
    return func(table);
}

/* ---- test_callbacks: the midpoint rule over nstep steps. ---- */
double integrate(double a, double b, double (*f)(double), long nstep) {
    double x, sum = 0.0, dx = (b - a) / (double)nstep;
    for (x = a + 0.5 * dx; (b - x) > 0.25 * dx; x += dx)
        sum += f(x);
    return sum / (double)nstep;
}

/* ---- libc through the test library ---- */
int an_integer = 42;
int get_an_integer(void) { return an_integer; }
char *my_strtok(char *token, const char *delim) { return strtok(token, delim); }
char *my_strchr(const char *s, int c) { return strchr(s, c); }
double my_sqrt(double a) { return sqrt(a); }
void my_qsort(void *base, size_t num, size_t width, int (*compare)(const void *, const void *)) {
    qsort(base, num, width, compare);
}
char *my_strdup(char *src) { return strdup(src); }
void my_free(void *ptr) { free(ptr); }
wchar_t *my_wcsdup(wchar_t *src) {
    size_t len = wcslen(src);
    wchar_t *ptr = malloc((len + 1) * sizeof(wchar_t));
    if (ptr == NULL)
        return NULL;
    memcpy(ptr, src, (len + 1) * sizeof(wchar_t));
    return ptr;
}
size_t my_wcslen(wchar_t *src) { return wcslen(src); }
typedef char *(*strchr_fn)(const char *, int);
strchr_fn get_strchr(void) { return (strchr_fn)my_strchr; }

/* ---- test_bitfields: the compiler's reading of each bitfield, against ctypes' layout. ---- */
struct BITS {
    signed int A : 1, B : 2, C : 3, D : 4, E : 5, F : 6, G : 7, H : 8, I : 9;
    signed short M : 1, N : 2, O : 3, P : 4, Q : 5, R : 6, S : 7;
};

int unpack_bitfields(struct BITS *bits, char name) {
    switch (name) {
    case 'A': return bits->A;
    case 'B': return bits->B;
    case 'C': return bits->C;
    case 'D': return bits->D;
    case 'E': return bits->E;
    case 'F': return bits->F;
    case 'G': return bits->G;
    case 'H': return bits->H;
    case 'I': return bits->I;
    case 'M': return bits->M;
    case 'N': return bits->N;
    case 'O': return bits->O;
    case 'P': return bits->P;
    case 'Q': return bits->Q;
    case 'R': return bits->R;
    case 'S': return bits->S;
    }
    return 999;
}

/* ---- structures passed and returned by value (test_functions, test_as_parameter,
 * test_structures, test_callbacks). ---- */
typedef struct { int x; int y; } point;

/* Returns in.x + in.y and copies `in` to *pout. */
int _testfunc_byval(point in, point *pout) {
    if (pout)
        *pout = in;
    return in.x + in.y;
}

typedef struct { short x, y; } S2H;
typedef struct { int a, b, c, d, e, f, g, h; } S8I;

S2H ret_2h_func(S2H in) {
    in.x *= 2;
    in.y *= 3;
    return in;
}

S8I ret_8i_func(S8I in) {
    in.a *= 2; in.b *= 3; in.c *= 4; in.d *= 5;
    in.e *= 6; in.f *= 7; in.g *= 8; in.h *= 9;
    return in;
}

/* Changes its own copy: the caller's structure must stay as it was. */
typedef struct { unsigned long first, second, third; } Large;
void _testfunc_large_struct_update_value(Large in) {
    in.first = 0x0badf00d;
    in.second = 0x0badf00d;
    in.third = 0x0badf00d;
    (void)in;
}

typedef struct { unsigned int first, second; } Reg;
Reg last_tfrsuv_arg;
void _testfunc_reg_struct_update_value(Reg in) {
    last_tfrsuv_arg = in;
    in.first = 0x0badf00d;
    in.second = 0x0badf00d;
    (void)in;
}

typedef struct { unsigned char data[16]; } Test2;
typedef struct { double data[2]; } Test3;
typedef struct { float data[2]; float more_data[2]; } Test3B;

int _testfunc_array_in_struct1(Test2 in) {
    int sum = 0;
    for (int i = 0; i < 16; i++)
        sum += in.data[i];
    memset(in.data, 0, sizeof in.data);
    return sum;
}

double _testfunc_array_in_struct2(Test3 in) {
    double sum = in.data[0] + in.data[1];
    in.data[0] = in.data[1] = 0;
    return sum;
}

double _testfunc_array_in_struct2a(Test3B in) {
    double sum = (double)in.data[0] + in.data[1] + in.more_data[0] + in.more_data[1];
    in.data[0] = in.more_data[0] = 0;
    return sum;
}

/* Calls back with the arguments squared. */
int _testfunc_cbk_reg_int(int a, int b, int c, int d, int e, int (*func)(int, int, int, int, int)) {
    return func(a * a, b * b, c * c, d * d, e * e);
}

double _testfunc_cbk_reg_double(double a, double b, double c, double d, double e,
                                double (*func)(double, double, double, double, double)) {
    return func(a * a, b * b, c * c, d * d, e * e);
}

/* Calls back with the structure it was given. */
void _testfunc_cbk_large_struct(Large in, void (*func)(Large)) {
    func(in);
}

/* ---- test_win32.Structures: rectangles and points by value and by pointer. ---- */
typedef struct { long x, y; } POINT;
typedef struct { long left, top, right, bottom; } RECT;
long left = 10, top = 20, right = 40, bottom = 80;

int PointInRect(RECT *prc, POINT pt) {
    if (prc == NULL)
        return 0;
    return pt.x >= prc->left && pt.x <= prc->right && pt.y >= prc->top && pt.y <= prc->bottom;
}

static int is_the_rect(const RECT *r) {
    return r && r->left == left && r->top == top && r->right == right && r->bottom == bottom;
}

/* Returns one of the rectangles it was given, chosen by i, after checking that every
 * argument arrived intact; a damaged argument makes the result all zeros. */
RECT ReturnRect(int i, RECT ar, RECT *br, POINT cp, RECT dr, RECT *er, POINT fp, RECT gr) {
    RECT zero = {0, 0, 0, 0};
    if (!is_the_rect(&ar) || !is_the_rect(br) || !is_the_rect(&dr) || !is_the_rect(er) ||
        !is_the_rect(&gr) || cp.x != fp.x || cp.y != fp.y || !PointInRect(&ar, cp))
        return zero;
    switch (i) {
    case 0: return ar;
    case 1: return *br;
    case 2: return dr;
    default: return gr;
    }
}

/* `_testfunc_pylist_append(list, item)`: appends through the interpreter's own API (a PyDLL
   function of CPython's test suite). Natively only, where the interpreter is in the process
   (its symbol is weak: a process without it gets -1); a sandbox has no interpreter. */
#ifndef __wasm__
typedef struct _object PyObject;
extern int PyList_Append(PyObject *, PyObject *) __attribute__((weak));
int _testfunc_pylist_append(PyObject *list, PyObject *item) {
    return PyList_Append ? PyList_Append(list, item) : -1;
}
#endif
