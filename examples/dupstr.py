# The seed's ownership example: C mallocs, Python reads, C frees; and libc's strdup and free.
import ctypes
import ctypes.util

lib = ctypes.CDLL("./libdupstr.so")
lib.dupstr.argtypes = [ctypes.c_char_p]
lib.dupstr.restype = ctypes.c_void_p
lib.freeme.argtypes = [ctypes.c_void_p]
lib.freeme.restype = None
p = lib.dupstr(b"copied by C")
print(ctypes.string_at(p))
lib.freeme(p)

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.strdup.argtypes = [ctypes.c_char_p]
libc.strdup.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free.restype = None
q = libc.strdup(b"from libc")
print(ctypes.string_at(q), libc.strlen(b"from libc"))
libc.free(q)
