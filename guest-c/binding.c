/* A C library shaped like the ones real ctypes bindings wrap (a cipher, a hash): it writes
   into the caller's buffers, streams data through a callback, and hands out its functions
   as pointers. For python/tests/test_real_bindings.py. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* out[i] = in[i] ^ key: the shape of a stream cipher's xor. out may be in. */
int xor_into(unsigned char *out, const unsigned char *in, size_t n, unsigned char key) {
    if (!out || !in) return -1;
    for (size_t i = 0; i < n; i++) out[i] = in[i] ^ key;
    return 0;
}

/* A 32-bit FNV-1a digest: the shape of a hash over a caller's bytes. */
uint32_t digest(const unsigned char *in, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ in[i]) * 16777619u;
    return h;
}

/* The digest into a caller's 4-byte output, as crypto APIs return results. */
int digest_into(unsigned char out[4], const unsigned char *in, size_t n) {
    uint32_t h = digest(in, n);
    memcpy(out, &h, 4);
    return 0;
}

/* Upper-cases a NUL-terminated string in place. */
void upcase(char *s) {
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z') *s -= 32;
}

typedef int (*sink_fn)(const unsigned char *chunk, size_t n, void *ctx);

/* Hands in[0..n) to sink in chunks of at most `chunk` bytes, with ctx, until sink returns
   non-zero (returned) or the data ends (0). */
int each_chunk(const unsigned char *in, size_t n, size_t chunk, sink_fn sink, void *ctx) {
    if (chunk == 0) return -1;
    for (size_t at = 0; at < n; at += chunk) {
        int r = sink(in + at, n - at < chunk ? n - at : chunk, ctx);
        if (r) return r;
    }
    return 0;
}

typedef uint32_t (*digest_fn)(const unsigned char *, size_t);

/* Calls a digest through a pointer: C that takes one of its own functions back. */
uint32_t digest_with(digest_fn f, const unsigned char *in, size_t n) { return f(in, n); }

/* A function by name, as plugin tables hand them out. */
digest_fn digest_named(const char *name) {
    return strcmp(name, "fnv1a") == 0 ? digest : NULL;
}

/* An object handed through C and back (a py_object argument and result). */
void *same(void *obj) { return obj; }
