"""Backup and recovery of the quota ledger.

A snapshot is a consistent copy of the ledger (SQLite's online backup, or `pg_dump` for
PostgreSQL) and a tar.gz of the profiles folder, kept in the store under
`_backups/ledger/<UTC time>/` with `backup.json` listing each object's size and SHA-256, the
ledger's engine and its migration revision. `backup.json` goes last: a snapshot is complete
only when it is there.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy import MetaData, create_engine, inspect, literal, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from digitize.ledger import accounts, database as ledger, review, sampling
from digitize.search import index as search
from digitize.core.errors import ConfigError, DigitizeError, StorageError, ToolError
from digitize.core.files import sha256_file
from digitize.core.settings import shown_url

PREFIX = "_backups/ledger"
MANIFEST = "backup.json"
PROFILES = "profiles.tar.gz"
DUMPS = {"sqlite": "ledger.sqlite", "postgresql": "ledger.pgdump"}
EMPTY_TODO = ("point DIGITIZE_LEDGER at an empty database (a new PostgreSQL database, or a SQLite file that does "
              "not exist yet) or remove the ledger file, then restore again; nothing was changed")


class SnapshotFile(BaseModel):
    size: int
    sha256: str


class BackupInfo(BaseModel):
    """A ledger snapshot in the store, as its backup.json records it."""

    snapshot: str  # UTC time of the snapshot: its folder under _backups/ledger/
    url: str  # where the ledger dump is in the store
    size: int  # of the ledger dump
    sha256: str
    engine: str  # sqlite | postgresql
    revision: str  # the ledger's migration when it was saved
    created: datetime
    files: dict[str, SnapshotFile]  # every object of the snapshot but backup.json


def _engine(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DUMPS:
        raise ConfigError(f"a {name} ledger cannot be backed up or restored", "DIGITIZE_LEDGER",
                          "use SQLite or PostgreSQL")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ConfigError("the ledger is not a SQLite file", shown_url(url), "set DIGITIZE_LEDGER to sqlite:///PATH")
    return Path(database)


def _read(url: str, what: str, query):
    """``query(connection)`` on the database at ``url``; a database error becomes a ConfigError
    that starts with ``what``."""
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as connection:
            return query(connection)
    except SQLAlchemyError as exc:
        raise ConfigError(f"{what} ({ledger.database_reason(exc)})", shown_url(url),
                          "check DIGITIZE_LEDGER and that the database server runs") from None
    finally:
        engine.dispose()


def _tables(url: str) -> dict[str, bool]:
    """The database's tables, each with whether it holds a row."""
    if _engine(url) == "sqlite" and not _sqlite_path(url).exists():
        return {}
    return _read(url, "the ledger cannot be read", lambda connection: {
        name: connection.execute(select(literal(1)).select_from(table(name)).limit(1)).first() is not None
        for name in inspect(connection).get_table_names()})


def _revision(url: str) -> str:
    return _read(url, "the ledger cannot be read, or has no schema",
                 lambda connection: connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def pg_program(name: str) -> str:
    """The newest installed PostgreSQL client program: pg_dump refuses a server newer than itself."""
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if found:
        return max(found, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise ToolError(f"{name} not found", None, "install the PostgreSQL client programs (apt-get install "
                    "postgresql-client)")


def _run_pg(program: str, url: str, *args: str) -> None:
    """Run pg_dump or pg_restore against the ledger at ``url``. The password goes in PGPASSWORD,
    never on the command line (other users can read command lines)."""
    parsed = make_url(url)
    env = {**os.environ, "PGPASSWORD": parsed.password} if parsed.password else None
    dbname = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run([pg_program(program), f"--dbname={dbname}", *args], env=env, capture_output=True,
                            text=True)
    if result.returncode:
        raise ToolError(f"{program} failed: {result.stderr.strip()}", shown_url(url),
                        "check DIGITIZE_LEDGER and that the database server runs")


def backup(ledger_url: str, profiles_dir: Path, store) -> BackupInfo:
    """Put a snapshot of the ledger and of the profiles in the store."""
    engine = _engine(ledger_url)
    if not Path(profiles_dir).is_dir():
        raise ConfigError("profiles folder not found", str(profiles_dir), "check DIGITIZE_PROFILES")
    created = datetime.now(timezone.utc).replace(microsecond=0)
    snapshot = f"{created:%Y%m%dT%H%M%SZ}"
    prefix = f"{PREFIX}/{snapshot}"
    if store.keys(f"{prefix}/"):
        raise DigitizeError("a snapshot was already made this second", store.url(prefix), "run again")
    with tempfile.TemporaryDirectory(prefix="digitize-backup-") as tmp:
        dump = Path(tmp) / DUMPS[engine]
        if engine == "sqlite":
            source_path = _sqlite_path(ledger_url)
            if not source_path.is_file():
                raise ConfigError("no ledger file", str(source_path), "check DIGITIZE_LEDGER (or DIGITIZE_DATA)")
            source = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
            copy = sqlite3.connect(dump)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
            revision = _revision(f"sqlite:///{dump}")
        else:
            revision = _revision(ledger_url)
            _run_pg("pg_dump", ledger_url, "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}")
        archive = Path(tmp) / PROFILES
        with tarfile.open(archive, "w:gz") as tar:
            for child in sorted(Path(profiles_dir).iterdir()):
                tar.add(child, arcname=child.name)
        files = {}
        for path in (dump, archive):
            files[path.name] = SnapshotFile(size=path.stat().st_size, sha256=sha256_file(path))
            store.put(path, f"{prefix}/{path.name}", files[path.name].sha256)
        info = BackupInfo(snapshot=snapshot, url=store.url(f"{prefix}/{dump.name}"), size=files[dump.name].size,
                          sha256=files[dump.name].sha256, engine=engine, revision=revision, created=created,
                          files=files)
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(info.model_dump_json(indent=1), encoding="utf-8")
        store.put(manifest, f"{prefix}/{MANIFEST}", sha256_file(manifest))
    return info


def _read_info(store, snapshot: str) -> BackupInfo:
    key = f"{PREFIX}/{snapshot}/{MANIFEST}"
    try:
        info = BackupInfo.model_validate_json(store.read_bytes(key))
    except ValidationError:
        raise StorageError(f"{MANIFEST} cannot be read", store.url(key),
                           "restore another snapshot (digitize backup --list shows them)") from None
    # the store may have been copied or moved since: say where the dump is now
    return info.model_copy(update={"url": store.url(f"{PREFIX}/{snapshot}/{DUMPS.get(info.engine, '')}")})


def list_backups(store) -> list[BackupInfo]:
    """The complete snapshots in the store, newest first."""
    snapshots = {key.split("/")[2] for key in store.keys(f"{PREFIX}/")
                 if key.count("/") == 3 and key.endswith(f"/{MANIFEST}")}
    return [_read_info(store, snapshot) for snapshot in sorted(snapshots, reverse=True)]


def find_backup(store, snapshot: str = "latest") -> BackupInfo:
    if snapshot == "latest":
        found = list_backups(store)
        if not found:
            raise ConfigError("no ledger snapshot in the store", store.url(PREFIX),
                              "check --from (or DIGITIZE_STORE); snapshots are made by digitize backup")
        return found[0]
    if "/" in snapshot or store.head(f"{PREFIX}/{snapshot}/{MANIFEST}") is None:
        raise ConfigError(f"no ledger snapshot {snapshot!r} in the store", store.url(PREFIX),
                          "digitize backup --list shows the snapshots")
    return _read_info(store, snapshot)


def _fetch(store, info: BackupInfo, folder: Path) -> dict[str, Path]:
    """Every object of the snapshot, each checked against the SHA-256 backup.json records."""
    fetched = {}
    for name, recorded in info.files.items():
        key = f"{PREFIX}/{info.snapshot}/{name}"
        if store.head(key) is None:
            raise StorageError(f"{name} is missing from the snapshot", store.url(key),
                               "restore another snapshot (digitize backup --list shows them)")
        path = folder / Path(name).name
        path.write_bytes(store.read_bytes(key))
        if sha256_file(path) != recorded.sha256:
            raise StorageError(f"{name} does not match the SHA-256 in {MANIFEST}: the snapshot is damaged",
                               store.url(key), "restore another snapshot (digitize backup --list shows them); "
                               "nothing was changed")
        fetched[name] = path
    return fetched


def _unpack(archive: Path, target: Path) -> None:
    """Unpack the profiles archive: plain files and folders only, all inside ``target`` (tarfile's
    "data" filter where the Python has it; Debian 12's 3.11.2 predates it)."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
            return
        root = target.resolve()
        for member in tar.getmembers():
            if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
                raise StorageError(f"the snapshot's profiles archive holds {member.name!r}, which is not a plain "
                                   "file inside it", str(archive), "use another snapshot")
        tar.extractall(target)


def restore(snapshot_ref: str, ledger_url: str, store, profiles_target: Path | None = None) -> BackupInfo:
    """Rebuild an empty ledger (and, if asked, the profiles folder) from a snapshot ("latest" or
    its UTC time), then migrate it to the newest schema."""
    from alembic.script import ScriptDirectory

    info = find_backup(store, snapshot_ref)
    engine = _engine(ledger_url)
    if info.engine != engine:
        raise ConfigError(f"snapshot {info.snapshot} is of a {info.engine} ledger and cannot be restored into "
                          f"{engine}", shown_url(ledger_url), f"point DIGITIZE_LEDGER at an empty {info.engine} ledger")
    if info.revision not in {s.revision for s in ScriptDirectory(str(ledger.MIGRATIONS)).walk_revisions()}:
        raise ConfigError(f"snapshot {info.snapshot} is of a newer ledger (migration {info.revision}) than this "
                          "installation knows", None, "update digitize on this server, then restore again")
    tables = _tables(ledger_url)
    # the ledger's tables (accounts', review's and sampling's are declared in their modules) and the index's
    # (not FTS5's own, never empty)
    ours = set(ledger.Base.metadata.tables) | {accounts.User.__tablename__} | set(search.TABLES) | {
        review.PageReview.__tablename__, review.ReviewEvent.__tablename__, sampling.BatchSample.__tablename__,
        sampling.SampleFinding.__tablename__}
    holding = sorted(name for name, rows in tables.items() if rows and name in ours)
    if holding:
        raise ConfigError(f"the ledger already holds data (tables {', '.join(holding)})", shown_url(ledger_url),
                          EMPTY_TODO)
    with tempfile.TemporaryDirectory(prefix="digitize-restore-") as tmp:
        fetched = _fetch(store, info, Path(tmp))
        dump = fetched[DUMPS[engine]]
        if engine == "sqlite":
            from digitize.core.files import write_atomic

            write_atomic(_sqlite_path(ledger_url), dump.read_bytes())
        else:
            # an empty schema made by an earlier command is in the way of pg_restore; it holds no rows
            metadata = MetaData()
            database = create_engine(ledger_url, hide_parameters=True)
            try:
                metadata.reflect(database, only=[name for name in tables if name in ours | {"alembic_version"}])
                metadata.drop_all(database)
            finally:
                database.dispose()
            _run_pg("pg_restore", ledger_url, "--no-owner", "--no-privileges", "--single-transaction", str(dump))
        if profiles_target is not None:
            _unpack(fetched[PROFILES], profiles_target)
    ledger.upgrade(ledger_url)
    ledger.clear_batch_locks(ledger_url)  # the runs that held them at backup time are not running here
    return info
