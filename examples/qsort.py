# libc's qsort with a Python comparison function (a CFUNCTYPE callback).
import ctypes
import ctypes.util

libc = ctypes.CDLL(ctypes.util.find_library("c"))
IntArray5 = ctypes.c_int * 5
ia = IntArray5(5, 1, 7, 33, 99)
CMPFUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def py_cmp_func(a, b):
    return a[0] - b[0]


libc.qsort(ia, len(ia), ctypes.sizeof(ctypes.c_int), CMPFUNC(py_cmp_func))
print(list(ia))
