"""Backup and recovery of the ledger on SQLite and on a real PostgreSQL: a snapshot restored into
an empty database gives the same figures; a damaged snapshot, a ledger that already holds data and
a snapshot of the other engine are refused; an older snapshot is migrated forward; and the
`digitize backup` / `digitize restore` commands do the round trip."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from conftest import invoke_cli, ledger_session, run_cli, sqlite_url, tree_hashes
from digitize.preservation import backup
from digitize.ledger import database as ledger, quota
from digitize.store import storage
from digitize.core.errors import ConfigError
from digitize.core.files import sha256_file
from digitize.core.settings import PACKAGED_PROFILES
from digitize.ledger.plans import load_plans
from digitize.core.errors import StorageError
from test_ledger import AS_OF, PROFILES, populate

HEAD = ScriptDirectory(str(ledger.MIGRATIONS)).get_current_head()


def figures(url: str) -> tuple[list, dict[str, int], str]:
    """The quota progress rows, the row count of every ledger table, and the migration revision."""
    with ledger_session(url) as session:
        rows = quota.progress(session, load_plans(PROFILES), AS_OF)
        counts = {t.name: session.scalar(select(func.count()).select_from(t))
                  for t in ledger.Base.metadata.sorted_tables}
        revision = session.scalar(text("SELECT version_num FROM alembic_version"))
    return rows, counts, revision


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def snapshot(request, tmp_path_factory):
    """A ledger with figures (as in test_ledger), backed up once: (ledger url, store, BackupInfo, figures)."""
    folder = tmp_path_factory.mktemp(f"backup-{request.param}")
    if request.param == "sqlite":
        url = sqlite_url(folder / "ledger.sqlite")
    else:
        url = request.getfixturevalue("postgres").new_database("restore")
    with ledger_session(url) as session:
        populate(session, folder)
    store = storage.open_store((folder / "store").as_uri())
    info = backup.backup(url, PROFILES, store)
    return url, store, info, figures(url)


@pytest.mark.parametrize("schema_made", [False, True], ids=["new-database", "empty-schema"])
def test_restore_rebuilds_the_ledger_with_the_same_figures(snapshot, schema_made, tmp_path, request):
    url, store, info, (rows, counts, revision) = snapshot
    assert counts["items"] > 0 and counts["holdings"] == 44 and rows
    assert [b.snapshot for b in backup.list_backups(store)] == [info.snapshot]
    assert info.revision == revision == HEAD and info.sha256 == info.files[backup.DUMPS[info.engine]].sha256
    target = (sqlite_url(tmp_path / "new-server" / "ledger.sqlite") if info.engine == "sqlite"
              else request.getfixturevalue("postgres").new_database("restore"))
    if schema_made:  # another command opened the new ledger before the restore: its tables are empty
        figures(target)
    restored = backup.restore("latest", target, store, profiles_target=tmp_path / "profiles")
    assert restored.snapshot == info.snapshot
    assert figures(target) == (rows, counts, revision)
    assert tree_hashes(tmp_path / "profiles") == tree_hashes(PROFILES)


def test_restore_into_a_ledger_with_data_is_refused_and_leaves_it_alone(snapshot):
    url, store, info, before = snapshot
    file_before = sha256_file(backup._sqlite_path(url)) if info.engine == "sqlite" else None
    with pytest.raises(ConfigError) as refused:
        backup.restore(info.snapshot, url, store)
    assert "already holds data" in refused.value.message and "DIGITIZE_LEDGER" in refused.value.message
    assert figures(url) == before
    if file_before:
        assert sha256_file(backup._sqlite_path(url)) == file_before


def test_a_snapshot_of_the_other_engine_is_refused(snapshot, tmp_path):
    url, store, info, _ = snapshot
    other = ("postgresql+psycopg://digitize@127.0.0.1:1/nowhere" if info.engine == "sqlite"
             else sqlite_url(tmp_path / "ledger.sqlite"))
    with pytest.raises(ConfigError, match=f"is of a {info.engine} ledger and cannot be restored"):
        backup.restore("latest", other, store)
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_tampered_snapshot_is_refused_naming_the_object(tmp_path):
    source = sqlite_url(tmp_path / "ledger.sqlite")
    with ledger_session(source) as session:
        populate(session, tmp_path)
    store = storage.open_store((tmp_path / "store").as_uri())
    info = backup.backup(source, PROFILES, store)
    damaged = tmp_path / "store" / backup.PREFIX / info.snapshot / "ledger.sqlite"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(data)
    target = tmp_path / "new" / "ledger.sqlite"
    with pytest.raises(StorageError) as refused:
        backup.restore(info.snapshot, sqlite_url(target), store)
    assert "ledger.sqlite does not match the SHA-256" in refused.value.message
    assert not target.exists()
    with pytest.raises(ConfigError, match="no ledger snapshot '20200101T000000Z'"):
        backup.restore("20200101T000000Z", sqlite_url(target), store)


def test_an_older_snapshot_is_migrated_forward(tmp_path):
    source = tmp_path / "old.sqlite"
    config = Config()
    config.set_main_option("script_location", str(ledger.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlite_url(source))
    command.upgrade(config, "0001")
    store = storage.open_store((tmp_path / "store").as_uri())
    assert backup.backup(sqlite_url(source), PROFILES, store).revision == "0001"
    target = sqlite_url(tmp_path / "new.sqlite")
    backup.restore("latest", target, store)
    assert figures(target)[2] == HEAD


@pytest.mark.slow  # several seconds: pages rendered or several commands run
def test_cli_backup_then_restore_on_a_new_server(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    with ledger_session(sqlite_url(old / "ledger.sqlite")) as session:
        populate(session, tmp_path)
    made = invoke_cli("backup", data=str(old))
    assert made.returncode == 0, made.stderr
    [info] = backup.list_backups(storage.open_store((old / "store").as_uri()))
    assert info.sha256 in made.stdout and info.snapshot in made.stdout
    listed = invoke_cli("backup", "--list", data=str(old))
    assert listed.returncode == 0 and info.snapshot in listed.stdout

    store = (old / "store").as_uri()
    restored = invoke_cli("restore", "--from", store, "--profiles", str(new / "profiles"), data=str(new))
    assert restored.returncode == 0, restored.stderr
    assert info.snapshot in restored.stdout
    assert figures(sqlite_url(new / "ledger.sqlite")) == figures(sqlite_url(old / "ledger.sqlite"))
    assert tree_hashes(new / "profiles") == tree_hashes(PROFILES)

    again = run_cli("restore", info.snapshot, "--from", store, data=str(new))
    assert again.returncode == ConfigError.exit_code
    assert "already holds data" in again.stderr


def test_profiles_unpack_safely_where_python_has_no_tar_filter(tmp_path, monkeypatch):
    """Debian 12's Python 3.11.2 predates tarfile's "data" filter: the check is done by hand there."""
    import io
    import tarfile

    from digitize.core.errors import StorageError

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    good, evil = tmp_path / "good.tar.gz", tmp_path / "evil.tar.gz"
    with tarfile.open(good, "w:gz") as tar:
        tar.add(PACKAGED_PROFILES / "materials", arcname="materials")
    with tarfile.open(evil, "w:gz") as tar:
        member = tarfile.TarInfo("../outside.toml")
        member.size = 4
        tar.addfile(member, io.BytesIO(b"x=1\n"))
    backup._unpack(good, tmp_path / "profiles")
    assert (tmp_path / "profiles" / "materials" / "quoc-ngu-modern.toml").is_file()
    with pytest.raises(StorageError, match="outside.toml"):
        backup._unpack(evil, tmp_path / "unpacked")
    assert not (tmp_path / "outside.toml").exists()
