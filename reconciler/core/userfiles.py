"""Reading a file a user named: a regular file, at most a limit, whatever the path turns out to be.

A size from stat() bounds a regular file only: a device (`/dev/zero`), a pipe (`<(yes)` is
`/dev/fd/N`) or a FIFO reports 0 and then never ends, and opening a FIFO for reading waits for a
writer. So the path is stat()ed before it is opened (a device is never opened), opened without
blocking, checked again on the descriptor (the path may have been swapped in between), and read
to one byte past the limit at most.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

_CHUNK = 1024 * 1024


class UnreadableFile(Exception):
    """Why a file was not read, as a sentence that names no content of it."""


class TooLarge(UnreadableFile):
    """The file holds more than the limit."""


def read_regular(path: Path, limit: int, *, what: str = "file") -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes; UnreadableFile says why not."""
    try:
        _check(os.stat(path), limit, what)
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                         | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise UnreadableFile(f"cannot read it: {error.strerror or error}") from None
    try:
        _check(os.fstat(handle), limit, what)
        return _read_at_most(handle, limit, what)
    except OSError as error:
        raise UnreadableFile(f"cannot read it: {error.strerror or error}") from None
    finally:
        os.close(handle)


def read_standard_input(limit: int, *, what: str = "file") -> bytes:
    """What standard input holds (`-f -`), read to one byte past `limit` at most."""
    stream = sys.stdin
    if stream is None:
        raise UnreadableFile("there is no standard input to read")
    binary = getattr(stream, "buffer", None)
    try:
        data = binary.read(limit + 1) if binary is not None else stream.read(limit + 1).encode("utf-8")
    except (OSError, ValueError) as error:
        raise UnreadableFile(f"cannot read standard input: {error}") from None
    if len(data) > limit:
        raise TooLarge(f"standard input holds more than {limit} bytes; {what}s are limited to {limit} bytes")
    return bytes(data)


def _check(found: os.stat_result, limit: int, what: str) -> None:
    if not stat.S_ISREG(found.st_mode):
        raise UnreadableFile(f"it is {_kind(found.st_mode)}, not a regular file; cmkctl reads a {what} only "
                             "from a regular file")
    if found.st_size > limit:
        raise TooLarge(f"it is {found.st_size} bytes; {what}s are limited to {limit} bytes")


def _read_at_most(handle: int, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(handle, min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    # It grew while being read.
    raise TooLarge(f"it is more than {limit} bytes; {what}s are limited to {limit} bytes")


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "something other than a file")
