"""Small file helpers every layer uses: SHA-256 (of a stream, of a file, while writing or copying),
atomic writes, NFC text and safe, naturally sorted names."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from digitize.models import FileFacts

BLOCK = 1 << 20


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def natural_key(name: str) -> list:
    """'p2.tif' before 'p10.tif', as the operator's file browser shows them."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", nfc(name))]


def safe_component(name: str) -> str:
    """A name usable as one path component (no separators, never '.' or '..')."""
    cleaned = re.sub(r"[/\\\x00]", "_", name).strip()
    return "_" if cleaned in ("", ".", "..") else cleaned


def sha256_stream(stream) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_stream(handle)


class HashingWriter(io.RawIOBase):
    """A binary file being written that hashes every byte as it goes (for writers such as pikepdf
    that want a stream); only sequential writing is allowed, so the digest is the file's."""

    def __init__(self, handle, name: str = ""):
        self.handle, self.name, self.digest, self.size = handle, name, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.handle.flush()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.size + offset, io.SEEK_END: self.size + offset}[whence]
        if target != self.size:
            raise io.UnsupportedOperation("a hashing writer only writes forwards")
        return self.size

    def truncate(self, size: int | None = None) -> int:
        if size not in (None, self.size):
            raise io.UnsupportedOperation("a hashing writer only writes forwards")
        return self.size

    @property
    def written(self) -> FileFacts:
        return FileFacts(size=self.size, sha256=self.digest.hexdigest())


@contextmanager
def atomic_writer(path: Path):
    """Yield a HashingWriter for a temporary file (its ``name``) beside ``path``; on success the file
    takes its place (a killed run never leaves half a file). The writer's ``written`` gives size and
    SHA-256; an exception inside the block leaves ``path`` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = HashingWriter(handle, tmp)
            yield writer
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> FileFacts:
    """Write via a temporary file and rename; returns the size and SHA-256 of what was written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path) as writer:
        writer.write(raw)
    return writer.written


class ChecksumMismatch(ValueError):
    """A copy's bytes differ from the SHA-256 expected of them."""


def copy_hashed(source: Path, target: Path, expected: str | None = None) -> FileFacts:
    """Copy a file atomically, hashing the bytes as they are copied (one read of the source). With
    ``expected``, a copy whose SHA-256 differs raises ChecksumMismatch and is not put in place."""
    with source.open("rb") as handle, atomic_writer(target) as writer:
        for block in iter(lambda: handle.read(BLOCK), b""):
            writer.write(block)
        if expected is not None and writer.written.sha256 != expected:
            raise ChecksumMismatch(f"{source}: SHA-256 {writer.written.sha256}, expected {expected}")
    return writer.written
