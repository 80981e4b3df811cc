# The seed's buffer example: C uppercases a mutable buffer in place.
import ctypes

lib = ctypes.CDLL("./libupper.so")
lib.upper.argtypes = [ctypes.c_char_p, ctypes.c_int]
lib.upper.restype = None
buf = ctypes.create_string_buffer(b"abc123")
lib.upper(buf, len(buf.value))
print(buf.value)
print(buf.raw)
