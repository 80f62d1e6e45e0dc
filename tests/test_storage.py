"""Object storage against a real OpenStack Swift (S3 API) on loopback: verified uploads, no
duplicates, refused corruption, conflicts, outages and the fixity audit."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
from contextlib import contextmanager

import pytest

from conftest import SAMPLES, run_cli, sample_manifest
from digitize import mets, pipeline
from digitize.models import ItemRecord
from digitize.errors import StorageConflict, StorageError, StorageUnavailable
from digitize.storage import S3Store


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
    """The sample batch run with DIGITIZE_STORE pointing at a Swift bucket."""
    bucket = swift.bucket("samples")
    out = tmp_path_factory.mktemp("s3run") / "out"
    with s3_environment(swift):
        first = run_cli("run", str(SAMPLES), "--out", str(out), store=f"s3://{bucket}/archive")
        listing = swift.client().list_objects_v2(Bucket=bucket)["Contents"]
        second = run_cli("run", str(SAMPLES), "--out", str(out), store=f"s3://{bucket}/archive")
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
    shutil.copytree(SAMPLES / "HN-TK-0002", batch / "HN-TK-0002")
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
        up = run_cli("run", str(batch), "--out", str(out), store=f"s3://{bucket}")
    assert up.returncode == 0, up.stdout + up.stderr
    stored = objects(swift, bucket)
    assert "HD-TV/HN-TK-0002/stored.json" in stored and "HD-TV/HN-TK-0002/mets.xml" in stored
    assert swift.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.slow  # a real Swift server
def test_audit_finds_changed_and_deleted_objects(swift, pushed):
    bucket, _, _, _, _ = pushed
    client = swift.client()
    with s3_environment(swift):
        clean = run_cli("audit", "--library", "HD-TV", store=f"s3://{bucket}/archive")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        changed, deleted = "archive/HD-TV/HD-DC-0001/text/0001.txt", "archive/HD-TV/HN-TK-0002/alto/0002.xml"
        client.put_object(Bucket=bucket, Key=changed, Body="văn bản bị sửa".encode())
        client.delete_object(Bucket=bucket, Key=deleted)
        result = run_cli("audit", store=f"s3://{bucket}/archive")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "HD-DC-0001/text/0001.txt" in result.stdout and "changed" in result.stdout
    assert "HN-TK-0002/alto/0002.xml" in result.stdout and "missing" in result.stdout
    assert "testing" not in result.stdout + result.stderr  # the secret key never shows


def test_folder_store_refuses_a_changed_file_and_keeps_versions(tmp_path):
    from digitize.storage import FolderStore

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
