"""A real ClamAV daemon for the tests: /usr/sbin/clamd on a Unix socket in a folder of the test, with
its own clamd.conf (foreground, no TCP) and a signature database made here, at test time: one body
signature, Digitize.Test.EICAR, for the EICAR test string, packed as an unsigned ClamAV database
(daily.cud) whose header gives the version and build date that VERSION reports (and that a run
checks the age of). The EICAR string is put together at run time: the repository never holds it.

    with running_clamd(tmp_path) as daemon:   # about a second to start with this tiny database
        daemon.socket ...
"""

from __future__ import annotations

import hashlib
import io
import socket
import subprocess
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

CLAMD = "/usr/sbin/clamd"
SIGNATURE = "Digitize.Test.EICAR"
SIGNATURES_VERSION = 27001


def eicar() -> bytes:
    """The EICAR anti-virus test string, from its two halves."""
    return ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*").encode("ascii")


def signature_database(built: datetime, version: int = SIGNATURES_VERSION) -> bytes:
    """An unsigned ClamAV database (.cud) holding one .ndb body signature for the EICAR string: a
    512-byte header (ClamAV-VDB:date:version:signatures:level:MD5 of the rest:signature:builder:time),
    then a tar.gz of COPYING, daily.info (the header again and each file's size and SHA-256) and
    daily.ndb, as `sigtool --unsigned --build` writes it."""
    ndb = f"{SIGNATURE}:0:*:{eicar().hex()}\n".encode()
    stamp, seconds = built.strftime("%d %b %Y %H-%M %z"), int(built.timestamp())
    info = (f"ClamAV-VDB:{stamp}:{version}:1:90:X:X:digitize-tests:{seconds}\n"
            f"daily.ndb:{len(ndb)}:{hashlib.sha256(ndb).hexdigest()}\n").encode()
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("COPYING", b"test signatures\n"), ("daily.info", info), ("daily.ndb", ndb)):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    body = packed.getvalue()
    header = f"ClamAV-VDB:{stamp}:{version}:1:90:{hashlib.md5(body).hexdigest()}:X:digitize-tests:{seconds}"
    return header.encode().ljust(512, b" ") + body


@dataclass
class Clamd:
    socket: str
    folder: Path
    process: subprocess.Popen
    built: datetime  # the signature database's build time

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(2)
            connection.connect(path)
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


@contextmanager
def running_clamd(folder: Path, age_days: float = 0, stream_max: str = "1M"):
    """clamd started in ``folder`` with signatures built ``age_days`` ago, accepting streams up to
    ``stream_max`` (clamd.conf's StreamMaxLength); stopped on leaving."""
    database = folder / "db"
    database.mkdir(parents=True, exist_ok=True)
    built = (datetime.now(timezone.utc) - timedelta(days=age_days)).replace(microsecond=0)
    (database / "daily.cud").write_bytes(signature_database(built))
    path = folder / "clamd.sock"
    config = folder / "clamd.conf"
    config.write_text(f"Foreground yes\nLocalSocket {path}\nDatabaseDirectory {database}\n"
                      f"PidFile {folder / 'clamd.pid'}\nLogFile {folder / 'clamd.log'}\n"
                      f"StreamMaxLength {stream_max}\nMaxThreads 4\nSelfCheck 0\n", encoding="utf-8")
    with open(folder / "clamd.out", "w", encoding="utf-8") as output:
        process = subprocess.Popen([CLAMD, "-c", str(config)], stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    daemon = Clamd(str(path), folder, process, built)
    try:
        deadline = time.monotonic() + 60
        while not answers(str(path)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"clamd did not start: {(folder / 'clamd.out').read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield daemon
    finally:
        daemon.stop()
