# The seed's interactive session on memory: c_char_p, c_int, create_string_buffer.
import ctypes

s = b"Hello, World"
c_s = ctypes.c_char_p(s)
print(c_s.value)
c_s.value = b"Hi, there"
print(c_s.value)
print(s)

i = ctypes.c_int(42)
print(i)
print(i.value)
i.value = -99
print(i.value)

p = ctypes.create_string_buffer(3)
print(ctypes.sizeof(p), repr(p.raw))
p = ctypes.create_string_buffer(b"Hello")
print(ctypes.sizeof(p), repr(p.raw))
print(repr(p.value))
p = ctypes.create_string_buffer(b"Hello", 10)
print(ctypes.sizeof(p), repr(p.raw))
p.value = b"Hi"
print(ctypes.sizeof(p), repr(p.raw))
