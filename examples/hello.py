# The seed's first example: call a C function that prints.
import ctypes
import sys

lib = ctypes.CDLL("./libgreeting.so")
lib.greet.argtypes = [ctypes.c_char_p]
lib.greet.restype = None
lib.greet(b"World")
sys.stdout.flush()
