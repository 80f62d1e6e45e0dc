"""Object storage against a real OpenStack Swift (S3 API) on loopback: verified uploads, no
duplicates, refused corruption, conflicts, outages and the fixity audit."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sqlite3
import threading
from contextlib import contextmanager

import pytest

from conftest import MINI, SAMPLES, invoke_cli, run_cli, sample_manifest
from digitize.describe import mets
from digitize.engine import pipeline
from digitize.core.models import ItemRecord
from digitize.core.errors import StorageConflict, StorageError, StorageUnavailable
from digitize.store.storage import S3Store


def s3_env(swift, monkeypatch):
    for key, value in swift.env.items():
        monkeypatch.setenv(key, value)


@contextmanager
def s3_environment(swift):
    """The store's endpoint and credentials in the environment, for code and for the CLI."""
    saved = {k: os.environ.get(k) for k in swift.env}
    os.environ.update(swift.env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def objects(swift, bucket: str) -> dict[str, int]:
    listed = swift.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["Size"] for o in listed}


def item_record(folder) -> ItemRecord:
    return ItemRecord.model_validate_json((folder / "item.json").read_text(encoding="utf-8"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def pushed(swift, tmp_path_factory):
    """The sample items (tiny pages) run with DIGITIZE_STORE pointing at a Swift bucket."""
    bucket = swift.bucket("samples")
    out = tmp_path_factory.mktemp("s3run") / "out"
    # the library in the ledger, so that its items are recorded there (the audit works from the ledger)
    imported = invoke_cli("holdings", "import", str(SAMPLES / "_holdings" / "HD-TV.csv"), "--library", "HD-TV",
                          "--name", "Thư viện tỉnh Hải Dương", "--province", "hai-duong", "--tier", "provincial",
                          data=str(out.parent))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    with s3_environment(swift):
        first = invoke_cli("run", str(MINI), "--out", str(out), store=f"s3://{bucket}/archive")
        listing = swift.client().list_objects_v2(Bucket=bucket)["Contents"]
        second = invoke_cli("run", str(MINI), "--out", str(out), store=f"s3://{bucket}/archive")
    return bucket, out, first, second, listing


@pytest.mark.slow  # a real Swift server
def test_sample_items_are_stored_intact(swift, pushed):
    bucket, out, first, _, _ = pushed
    assert first.returncode == 0, first.stdout + first.stderr
    client = swift.client()
    stored = objects(swift, bucket)
    for item_id in sample_manifest():
        folder = next(out.glob(f"*/{item_id}"))
        local = [p for p in folder.rglob("*") if p.is_file() and p.name != "item.json" and p.parent.name != "pages"]
        assert local
        for path in local:
            key = f"archive/HD-TV/{item_id}/{path.relative_to(folder).as_posix()}"
            assert stored[key] == path.stat().st_size, key
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            assert sha256(body) == sha256(path.read_bytes()), key
        package = mets.read(folder / "mets.xml")
        assert all(f.href.startswith(f"s3://{bucket}/archive/HD-TV/{item_id}/") for f in package.files)
        assert any(e.type == "replication" and f"s3://{bucket}/archive" in e.detail for e in package.events)


@pytest.mark.slow  # a real Swift server
def test_a_second_run_uploads_nothing(swift, pushed, monkeypatch):
    bucket, out, _, second, listing = pushed
    assert second.returncode == 0, second.stdout + second.stderr
    after = swift.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["LastModified"]) for o in after] == [
        (o["Key"], o["ETag"], o["LastModified"]) for o in listing]
    # pushing a stored item again sends no object
    folder = next(out.glob("*/HD-DC-0001"))
    s3_env(swift, monkeypatch)
    assert pipeline.store_item(item_record(folder), folder, S3Store(bucket, "archive"))[1] == 0


@pytest.mark.slow  # a real Swift server
def test_a_wrong_checksum_is_refused_by_the_server(swift, monkeypatch, tmp_path):
    s3_env(swift, monkeypatch)
    bucket = swift.bucket("corrupt")
    path = tmp_path / "page.txt"
    path.write_bytes("Trăm năm trong cõi người ta".encode() * 1000)
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    with pytest.raises(StorageError, match="BadDigest"):
        S3Store(bucket)._send(path, "HD-TV/X/page.txt", path.stat().st_size, sha256(path.read_bytes()),
                              checksum=wrong)
    assert objects(swift, bucket) == {}


@pytest.mark.slow  # a real Swift server
def test_a_changed_file_at_an_existing_key_is_refused(swift, monkeypatch, tmp_path):
    s3_env(swift, monkeypatch)
    store = S3Store(swift.bucket("conflict"))
    path = tmp_path / "0001.txt"
    path.write_text("bản gốc", encoding="utf-8")
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes())) is True
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes())) is False  # identical: no-op
    path.write_text("bản đã sửa", encoding="utf-8")
    with pytest.raises(StorageConflict, match="a different object is already stored under this key") as caught:
        store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes()))
    assert "s3://conflict/L/I/text/0001.txt" in caught.value.message
    assert swift.client().get_object(Bucket="conflict", Key="L/I/text/0001.txt")["Body"].read() == \
        "bản gốc".encode()
    # asked for explicitly, the new version takes the key and the stored one is kept
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes()), new_version=True) is True
    stored = objects(swift, "conflict")
    [previous] = [k for k in stored if k.startswith("_versions/")]
    assert previous.endswith("/L/I/text/0001.txt")
    client = swift.client()
    assert client.get_object(Bucket="conflict", Key=previous)["Body"].read() == "bản gốc".encode()
    assert client.get_object(Bucket="conflict", Key="L/I/text/0001.txt")["Body"].read() == "bản đã sửa".encode()


@pytest.mark.slow  # a real Swift server
def test_large_files_go_in_verified_parts(swift, monkeypatch, tmp_path):
    s3_env(swift, monkeypatch)
    bucket = swift.bucket("multipart")
    path = tmp_path / "master.tif"
    path.write_bytes(bytes(range(256)) * (12 * 4096))  # 12 MiB
    store = S3Store(bucket, multipart_threshold=5 << 20, part_size=5 << 20)
    assert store.put(path, "L/I/masters/master.tif", sha256(path.read_bytes()))
    assert objects(swift, bucket) == {"L/I/masters/master.tif": path.stat().st_size}
    assert swift.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


class StopsMidway(S3Store):
    """A real store whose server goes down after a few objects."""

    def __init__(self, swift, bucket, after):
        super().__init__(bucket, attempts=2, timeout=3)
        self.swift, self.after, self.sent, self.busy, self.down = swift, after, 0, 0, False
        self.turn = threading.Condition()

    def put(self, *args, **kwargs):
        # objects go out a few at once: the server goes down after the first `after` have arrived
        # and before any other starts
        with self.turn:
            self.sent += 1
            if self.sent == self.after + 1:
                self.turn.wait_for(lambda: self.busy == 0)
                self.swift.stop()
                self.down = True
                self.turn.notify_all()
            elif self.sent > self.after + 1:
                self.turn.wait_for(lambda: self.down)
            self.busy += 1
        try:
            return super().put(*args, **kwargs)
        finally:
            with self.turn:
                self.busy -= 1
                self.turn.notify_all()


@pytest.mark.slow  # a real Swift server
def test_outage_mid_item_then_the_next_run_completes_it(swift, pushed, monkeypatch, tmp_path):
    s3_env(swift, monkeypatch)
    bucket = swift.bucket("outage")
    _, out, _, _, _ = pushed
    folder = tmp_path / "HD-DC-0001"
    shutil.copytree(next(out.glob("*/HD-DC-0001")), folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    record = item_record(folder)
    try:
        with pytest.raises(StorageUnavailable):
            pipeline.store_item(record, folder, StopsMidway(swift, bucket, after=5))
    finally:
        swift.start()
    partial = objects(swift, bucket)
    assert 0 < len(partial) <= 5 and not any(k.endswith("stored.json") for k in partial)
    assert all(p.exists() for p in before)  # nothing lost locally
    _, sent = pipeline.store_item(record, folder, S3Store(bucket))
    final = objects(swift, bucket)
    assert sent == len(final) - len(partial)  # only what was missing was sent
    local = [p for p in folder.rglob("*") if p.is_file() and p.name != "item.json" and p.parent.name != "pages"]
    assert sorted(final) == sorted(f"HD-TV/HD-DC-0001/{p.relative_to(folder).as_posix()}" for p in local)
    for path in local:
        assert final[f"HD-TV/HD-DC-0001/{path.relative_to(folder).as_posix()}"] == path.stat().st_size
    assert swift.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.slow  # a real Swift server
def test_a_batch_run_during_an_outage_leaves_items_waiting_then_completes(swift, tmp_path):
    bucket = swift.bucket("nightly")
    batch = tmp_path / "batch"
    shutil.copytree(MINI / "HN-TK-0002", batch / "HN-TK-0002")
    out = tmp_path / "out"
    with s3_environment(swift):
        swift.stop()
        try:
            down = run_cli("run", str(batch), "--out", str(out), store=f"s3://{bucket}")
        finally:
            swift.start()
        assert down.returncode != 0
        assert "waiting for storage" in down.stdout
        assert (out / "HD-TV" / "HN-TK-0002" / "HN-TK-0002.pdf").is_file()  # outputs kept
        assert objects(swift, bucket) == {}
        up = invoke_cli("run", str(batch), "--out", str(out), store=f"s3://{bucket}")
    assert up.returncode == 0, up.stdout + up.stderr
    stored = objects(swift, bucket)
    assert "HD-TV/HN-TK-0002/stored.json" in stored and "HD-TV/HN-TK-0002/mets.xml" in stored
    assert swift.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def reported(result, *kinds: str) -> set[tuple[str, str]]:
    """(kind, object URL) of each line of a command's output that starts with one of ``kinds``."""
    lines = [line.split() for line in result.stdout.splitlines()]
    return {(words[0], words[1].rstrip(":")) for words in lines if words and words[0] in kinds}


def ledger_outputs(data) -> list[tuple]:
    with sqlite3.connect(data / "ledger.sqlite") as db:
        return db.execute("SELECT i.item_id, i.status, o.path, o.size, o.sha256 FROM outputs o JOIN items i "
                          "ON o.item = i.id ORDER BY 1, 3").fetchall()


@pytest.mark.slow  # a real Swift server
def test_audit_from_the_ledger_and_repair(swift, pushed):
    bucket, out, _, _, _ = pushed
    client, store, recorded = swift.client(), f"s3://{bucket}/archive", ledger_outputs(out.parent)
    assert len({row[0] for row in recorded}) == 2 and {row[1] for row in recorded} == {"ok"}

    def cli(*args):
        return run_cli(*args, store=store, data=str(out.parent))

    def intact(name: str) -> bool:
        body = client.get_object(Bucket=bucket, Key=f"archive/HD-TV/{name}")["Body"].read()
        return sha256(body) == sha256((out / "HD-TV" / name).read_bytes())

    with s3_environment(swift):
        clean = cli("audit", "--library", "HD-TV")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert f"2 items, {len(recorded)} objects checked" in clean.stdout
        # rot: the same size and the recorded SHA-256 still in its metadata, over other bytes
        changed, deleted = "HD-DC-0001/text/0001.txt", ["HN-TK-0002/alto/0002.xml", "HD-DC-0001/HD-DC-0001.pdf"]
        original = client.get_object(Bucket=bucket, Key=f"archive/HD-TV/{changed}")
        rotten = bytearray(original["Body"].read())
        rotten[0] ^= 1
        client.put_object(Bucket=bucket, Key=f"archive/HD-TV/{changed}", Body=bytes(rotten),
                          Metadata=original["Metadata"])
        for name in deleted:
            client.delete_object(Bucket=bucket, Key=f"archive/HD-TV/{name}")
        found = cli("audit")
        assert found.returncode == 5, found.stdout + found.stderr
        assert reported(found, "missing", "changed") == {("changed", f"{store}/HD-TV/{changed}")} | {
            ("missing", f"{store}/HD-TV/{name}") for name in deleted}

        repaired = cli("repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert all(intact(name) for name in [changed, *deleted])
        [kept] = [k for k in objects(swift, bucket) if k.startswith("archive/_versions/")]
        assert kept.endswith(f"/HD-TV/{changed}")
        assert client.get_object(Bucket=bucket, Key=kept)["Body"].read() == rotten
        after = cli("audit")
        assert after.returncode == 0, after.stdout + after.stderr

        # a whole item lost in the store: the next run of its batch sends it again
        lost = [k for k in objects(swift, bucket) if k.startswith("archive/HD-TV/HN-TK-0002/")]
        for key in lost:
            client.delete_object(Bucket=bucket, Key=key)
        assert cli("audit").returncode == 5
        rerun = run_cli("run", str(MINI), "--out", str(out), store=store)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert all(intact(key.removeprefix("archive/HD-TV/")) for key in lost)
        final = cli("audit")
        assert final.returncode == 0, final.stdout + final.stderr
    assert ledger_outputs(out.parent) == recorded
    shown = "".join(r.stdout + r.stderr for r in (clean, found, repaired, after, rerun, final))
    assert "testing" not in shown  # the secret key never shows


def test_folder_store_refuses_a_changed_file_and_keeps_versions(tmp_path):
    from digitize.store.storage import FolderStore

    store = FolderStore(tmp_path / "store")
    path = tmp_path / "0001.txt"
    path.write_text("bản gốc", encoding="utf-8")
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes())) is True
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes())) is False
    path.write_text("bản đã sửa", encoding="utf-8")
    with pytest.raises(StorageConflict, match="--new-version"):
        store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes()))
    assert store.put(path, "L/I/text/0001.txt", sha256(path.read_bytes()), new_version=True) is True
    [previous] = [k for k in store.keys() if k.startswith("_versions/")]
    assert (tmp_path / "store" / previous).read_text(encoding="utf-8") == "bản gốc"
    assert (tmp_path / "store" / "L/I/text/0001.txt").read_text(encoding="utf-8") == "bản đã sửa"
    with pytest.raises(StorageError, match="outside the store"):
        store.put(path, "../../escape.txt", sha256(path.read_bytes()))
