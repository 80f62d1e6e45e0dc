"""Memory given back to the system after large renders. glibc's malloc raises its mmap threshold
after a large block is freed, so the next page-sized buffers of a render come from the heap and
stay there once freed: a server process that made sixteen large images at once kept gigabytes
afterwards. Blocks from ``LARGE_BLOCK`` bytes up are mapped apart (and unmapped when freed), and
``give_back`` trims what the heaps hold free. Elsewhere than glibc both do nothing."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

LARGE_BLOCK = 1 << 20  # bytes: an image buffer is megabytes, an ordinary object a few hundred bytes
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter

_libc = None
_lock = threading.Lock()
_set_up = False


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
            _libc = libc
        except (OSError, AttributeError):  # not glibc
            _libc = False
    return _libc


def map_large_blocks() -> None:
    """Large blocks mapped apart from the heap from now on, in this process (once)."""
    global _set_up
    with _lock:
        if _set_up:
            return
        _set_up = True
        if libc := _glibc():
            libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)


def give_back() -> None:
    """The free memory of the heaps returned to the system (a few milliseconds)."""
    if libc := _glibc():
        libc.malloc_trim(0)
