"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, listening on
127.0.0.1 on a free port, with a `digitize` role owning a `digitize` database (trust auth).

PostgreSQL refuses to run as root, so when the tests run as root (as here and in CI) every
server command runs as the `postgres` system user (Debian's `postgresql` package makes it);
otherwise the commands run as the current user.

    server = PostgresServer(tmp_path)
    server.start()
    engine = sqlalchemy.create_engine(server.url)   # needs psycopg 3 (`psycopg[binary]`)
    ...
    server.stop()
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from conftest import free_port

OS_USER = "postgres"  # the system user the server runs as when we are root
DB_USER = DB_NAME = "digitize"


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, else the folder of initdb on PATH."""
    from digitize.preservation.backup import pg_program
    from digitize.core.errors import ToolError

    try:
        return Path(pg_program("initdb")).parent
    except ToolError:
        return None


def postgres_available() -> bool:
    """True when the PostgreSQL server programs are installed (and, as root, the postgres user exists)."""
    folder = bin_dir()
    if folder is None or not all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres", "psql")):
        return False
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return False
    return True


class PostgresServer:
    """A PostgreSQL server in a folder of its own under ``base``; ``url`` is its SQLAlchemy URL."""

    def __init__(self, base: Path | str, port: int | None = None):
        self.base = Path(base)
        self.port = port or free_port()
        self.bin = bin_dir()
        self.as_root = os.geteuid() == 0
        self.folder: Path | None = None  # holds data/, the Unix socket and server.log
        self._own_folder = False  # True when folder is a mkdtemp() of ours, removed by stop()
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin)")
        self.folder = self._make_folder()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync", "--no-instructions")
        # -F: no fsync (a test server); -k: the Unix socket stays inside our folder, not /run/postgresql.
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -F"
        try:
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                      "-o", options, "start")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\nserver.log:\n{self.log()}") from None
        self.started = True
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-q",
                  "-v", "ON_ERROR_STOP=1", "-c", f"CREATE ROLE {DB_USER} LOGIN",
                  "-c", f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def new_database(self, prefix: str = "db") -> str:
        """A new empty database owned by the `digitize` role; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-q",
                  "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name} OWNER {DB_USER}")
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        if self._own_folder and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._own_folder = False

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _make_folder(self) -> Path:
        """A fresh folder the server user owns. As root, under ``base`` when the postgres user can
        reach it; pytest's tmp folders (/tmp/pytest-of-root, mode 0700) are not reachable, so then
        under a fresh mkdtemp() opened to mode 0755."""
        if not self.as_root:
            return Path(tempfile.mkdtemp(prefix="postgres-", dir=self.base))
        if self._reachable(self.base):
            folder = Path(tempfile.mkdtemp(prefix="postgres-", dir=self.base))
        else:
            folder = Path(tempfile.mkdtemp(prefix="digitize-postgres-"))
            self._own_folder = True
        folder.chmod(0o755)
        user = pwd.getpwnam(OS_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
        return folder

    def _reachable(self, folder: Path) -> bool:
        return subprocess.run(["runuser", "-u", OS_USER, "--", "test", "-x", str(folder)]).returncode == 0

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", OS_USER, "--", *command]
        # cwd: the postgres user may not be able to enter the caller's working directory.
        result = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stdout}{result.stderr}")
