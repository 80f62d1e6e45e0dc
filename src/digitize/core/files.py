"""Small file helpers every layer uses: SHA-256 (of a stream, of a file, while writing or copying),
atomic writes, NFC text and safe, naturally sorted names."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from digitize.core.models import CONTROL, FileFacts

BLOCK = 1 << 20
# A write that fails with these is the disk's fault, not the file's: full or read-only ...
FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
# ... or, where we write our own outputs, not writable for the service user
UNWRITABLE = FULL_OR_READ_ONLY | {errno.EACCES, errno.EPERM}


def _umask() -> int:
    """The process's umask, read from /proc where Linux shows it: setting the umask to learn it
    (the only other way) changes it for a moment for every thread creating files."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# the mode open() gives a new file (0644 or 0664): what we write is read by the service's group,
# so mkstemp's 0600 must not stay on it
MODE = 0o666 & ~_umask()


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def natural_key(name: str) -> list:
    """'p2.tif' before 'p10.tif', as the operator's file browser shows them."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", nfc(name))]


def safe_component(name: str) -> str:
    """A name usable as one path component (no separators, never '.' or '..')."""
    cleaned = re.sub(r"[/\\\x00]", "_", name).strip()
    return "_" if cleaned in ("", ".", "..") else cleaned


def short_component(name: str, room: int = 0) -> str:
    """``name`` cut to fit one file name (255 bytes) with ``room`` bytes to spare for a suffix; a cut
    name ends with a hash of the whole, so two long names stay apart."""
    limit = 255 - room
    if len(name.encode("utf-8")) <= limit:
        return name
    tag = "~" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    cut = name.encode("utf-8")[: limit - len(tag)].decode("utf-8", "ignore")
    return cut + tag


def probe_writable(folder: Path) -> None:
    """Make ``folder`` if needed and write a few bytes into a nameless temporary file there: the
    OSError of a folder that cannot take files, before any work is done."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder) as probe:
        probe.write(b"digitize")


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.")  # short: a long name must still fit
    try:
        os.fchmod(fd, MODE)
        with os.fdopen(fd, "wb") as handle:
            writer = HashingWriter(handle, tmp)
            yield writer
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# what atomic_writer's mkstemp names a temporary: ".<target name, 40 characters at most>.<8 random>"
TEMPORARY = re.compile(r"^\.(?P<target>.{1,40})\.[a-z0-9_]{8}$")


def remove_temporaries(folder: Path) -> list[Path]:
    """Remove the temporaries atomic_writer left under ``folder`` (an output folder of ours) when a
    run was killed mid-write; the removed paths. Only files named as it names them, beside a file
    or in a folder of ours: never anything else."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.rglob(".*"):
        if TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_atomic(path: Path, data: bytes | str) -> FileFacts:
    """Write via a temporary file and rename; returns the size and SHA-256 of what was written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path) as writer:
        writer.write(raw)
    return writer.written


class ChecksumMismatch(ValueError):
    """A copy's bytes differ from the SHA-256 expected of them."""


def copy_plain(source, target, *, follow_symlinks: bool = True):
    """shutil.copy2 without the mode: the copy keeps the source's bytes and times but gets MODE like
    every file we write, not a FAT stick's 0777 or a scanner's 0600 (fits copytree's copy_function)."""
    shutil.copyfile(source, target, follow_symlinks=follow_symlinks)
    if not os.path.islink(target):
        times = os.stat(source)
        os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
        os.chmod(target, MODE)
    return target


def copy_hashed(source: Path, target: Path, expected: str | None = None) -> FileFacts:
    """Copy a file atomically, hashing the bytes as they are copied (one read of the source). With
    ``expected``, a copy whose SHA-256 differs raises ChecksumMismatch and is not put in place."""
    with source.open("rb") as handle, atomic_writer(target) as writer:
        for block in iter(lambda: handle.read(BLOCK), b""):
            writer.write(block)
        if expected is not None and writer.written.sha256 != expected:
            raise ChecksumMismatch(f"{source}: SHA-256 {writer.written.sha256}, expected {expected}")
    return writer.written


def shown_name(name: str) -> str:
    """A file or folder name as reports and metadata show it: NFC, control characters as '?'."""
    return CONTROL.sub("?", nfc(name))


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, its links followed, is within ``root``."""
    return path.resolve().is_relative_to(root.resolve())
