/* Structures, unions and bitfields: layouts the host must reproduce, and by-value calls.
 *
 * For every layout X: X_size() and X_align() report sizeof and _Alignof; X_fill(p) stores
 * field k = k + 1 (negated for signed bitfields) so the host can read the fields back through
 * its own layout; X_check(p) returns 1 when the host stored the same values. */
#include <stddef.h>
#include <stdint.h>

#define LAYOUT(X) \
    size_t X##_size(void) { return sizeof(struct X); } \
    size_t X##_align(void) { return _Alignof(struct X); }

struct S1 { char c; int i; short s; };
struct S2 { char c; long l; char d; };
struct S3 { char c; void *p; int i; };
struct S4 { char c; double d; float f; };
struct S5 { long long ll; char c; };
struct B1 { unsigned a : 3; unsigned b : 5; unsigned c : 10; int d : 14; };
struct B2 { unsigned char a : 4; unsigned int b : 30; unsigned short c : 9; };
struct B3 { int a : 7; int : 0; char b; long c : 20; };
#pragma pack(push, 1)
struct P1 { char c; int i; short s; };
#pragma pack(pop)
#pragma pack(push, 2)
struct P2 { char c; long long ll; char d; };
#pragma pack(pop)
struct N1 { char c; struct S1 inner; double d; };
union U1 { char c; int i; double d; long l; };
struct A1 { char name[5]; int vals[3]; short s; };

LAYOUT(S1) LAYOUT(S2) LAYOUT(S3) LAYOUT(S4) LAYOUT(S5) LAYOUT(B1) LAYOUT(B2) LAYOUT(B3)
LAYOUT(P1) LAYOUT(P2) LAYOUT(N1) LAYOUT(A1)
size_t U1_size(void) { return sizeof(union U1); }
size_t U1_align(void) { return _Alignof(union U1); }

size_t S1_off(int k) { switch (k) { case 0: return offsetof(struct S1, c); case 1: return offsetof(struct S1, i); default: return offsetof(struct S1, s); } }
size_t S2_off(int k) { switch (k) { case 0: return offsetof(struct S2, c); case 1: return offsetof(struct S2, l); default: return offsetof(struct S2, d); } }
size_t S3_off(int k) { switch (k) { case 0: return offsetof(struct S3, c); case 1: return offsetof(struct S3, p); default: return offsetof(struct S3, i); } }
size_t S4_off(int k) { switch (k) { case 0: return offsetof(struct S4, c); case 1: return offsetof(struct S4, d); default: return offsetof(struct S4, f); } }
size_t S5_off(int k) { return k == 0 ? offsetof(struct S5, ll) : offsetof(struct S5, c); }
size_t P1_off(int k) { switch (k) { case 0: return offsetof(struct P1, c); case 1: return offsetof(struct P1, i); default: return offsetof(struct P1, s); } }
size_t P2_off(int k) { switch (k) { case 0: return offsetof(struct P2, c); case 1: return offsetof(struct P2, ll); default: return offsetof(struct P2, d); } }
size_t N1_off(int k) { switch (k) { case 0: return offsetof(struct N1, c); case 1: return offsetof(struct N1, inner); default: return offsetof(struct N1, d); } }
size_t A1_off(int k) { switch (k) { case 0: return offsetof(struct A1, name); case 1: return offsetof(struct A1, vals); default: return offsetof(struct A1, s); } }

void B1_fill(struct B1 *p) { p->a = 1; p->b = 2; p->c = 3; p->d = -4; }
int B1_check(const struct B1 *p) { return p->a == 1 && p->b == 2 && p->c == 3 && p->d == -4; }
void B2_fill(struct B2 *p) { p->a = 1; p->b = 2; p->c = 3; }
int B2_check(const struct B2 *p) { return p->a == 1 && p->b == 2 && p->c == 3; }
void B3_fill(struct B3 *p) { p->a = -1; p->b = 2; p->c = -3; }
int B3_check(const struct B3 *p) { return p->a == -1 && p->b == 2 && p->c == -3; }
void P1_fill(struct P1 *p) { p->c = 1; p->i = 2; p->s = 3; }
void P2_fill(struct P2 *p) { p->c = 1; p->ll = 2; p->d = 3; }
void N1_fill(struct N1 *p) { p->c = 1; p->inner.c = 2; p->inner.i = 3; p->inner.s = 4; p->d = 5.5; }
void A1_fill(struct A1 *p) { for (int i = 0; i < 5; i++) p->name[i] = 'a' + i; for (int i = 0; i < 3; i++) p->vals[i] = 10 + i; p->s = 7; }
int U1_c_of_i(int i) { union U1 u; u.i = i; return u.c; }

/* By value: the RECT/POINT pair of the ctypes tutorial. */
typedef struct { int x, y; } POINT;
typedef struct { POINT upperleft, lowerright; } RECT;
int PointInRect(RECT *prc, POINT pt) {
    return pt.x >= prc->upperleft.x && pt.x <= prc->lowerright.x && pt.y >= prc->upperleft.y && pt.y <= prc->lowerright.y;
}
int PointInRectByValue(RECT rc, POINT pt) { return PointInRect(&rc, pt); }
POINT make_point(int x, int y) { POINT p = { x, y }; return p; }
RECT make_rect(int l, int t, int r, int b) { RECT rc = { { l, t }, { r, b } }; return rc; }
/* A single-scalar structure travels as that scalar in wasm32. */
typedef struct { double value; } Wrapped;
Wrapped wrap_double(double v) { Wrapped w = { v * 2 }; return w; }
double unwrap_double(Wrapped w) { return w.value; }
/* A structure with a long and a pointer: its size differs between the targets. */
typedef struct { char tag; long count; const char *name; } Record;
long record_count(Record r) { return r.count + r.tag; }
Record make_record(long count) { Record r = { 'r', count, "record" }; return r; }
/* Character arrays as members: ctypes reads `c_char * n` as bytes and `c_wchar * n` as str. */
#include <string.h>
#include <wchar.h>
typedef struct { int id; char name[5]; wchar_t tag[4]; } Named;
/* 1 when the host stored id 5, name "hello" (no room left for a NUL) and tag L"wxy". */
int Named_check(const Named *p) { return p->id == 5 && memcmp(p->name, "hello", 5) == 0 && wcscmp(p->tag, L"wxy") == 0; }
void Named_fill(Named *p) { p->id = 7; memcpy(p->name, "ab\0cd", 5); wcscpy(p->tag, L"zz"); }
/* String pointers as members and elements: ctypes stores bytes by copying them and reads a
   char * member back as bytes. */
typedef struct { int id; const char *name; } Person;
size_t person_name_len(const Person *p) { return p->name ? strlen(p->name) + (size_t)p->id : 0; }
size_t total_len(const char **v, int n) { size_t s = 0; for (int i = 0; i < n; i++) s += v[i] ? strlen(v[i]) : 100; return s; }
/* Exported data of compound types, for in_dll. */
POINT a_point = { 3, 4 };
int some_ints[4] = { 10, 20, 30, 40 };
int a_point_sum(void) { return a_point.x + a_point.y; }
int some_int(int i) { return some_ints[i]; }
/* Members seen through views, and pointers to structures. */
int rect_right(const RECT *r) { return r->lowerright.x; }
int A1_val(const struct A1 *p, int i) { return p->vals[i]; }
POINT *points(void) { static POINT p[3] = { { 1, 2 }, { 3, 4 }, { 5, 6 } }; return p; }
/* Structures with bitfields by value: natively libffi gets them as storage units. The first
   is one INTEGER eightbyte (bits and a float share it), the second an SSE and an INTEGER one. */
struct BF { unsigned a : 3; int b : 10; float f; };
int bf_sum(struct BF s) { return (int)s.a + s.b + (int)(s.f * 2); }
struct BF make_bf(int a, int b) { struct BF s = { (unsigned)a, b, 2.5f }; return s; }
struct BF2 { double d; unsigned x : 4; unsigned y : 4; };
double bf2_sum(struct BF2 s) { return s.d + s.x + s.y; }
struct BF2 make_bf2(double d) { struct BF2 s = { d, 3, 5 }; return s; }
