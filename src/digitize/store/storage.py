"""Where finished items are kept: a local folder (the default) or S3-compatible object storage.

Every object goes with its SHA-256 (sent to the server, which must refuse a mismatch, and kept as
object metadata), is verified after it arrives, is never overwritten silently, and an identical
object already there is not sent again.
"""

from __future__ import annotations

import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlparse

from digitize.core import files
from digitize.core.errors import ConfigError, StorageConflict, StorageError, StorageRefused, StorageUnavailable
from digitize.core.models import StoredManifest
from digitize.core.settings import shown_url

READ_BACK_LIMIT = 8 << 20  # objects up to this size are read back and hashed after upload
# S3 answers that refuse every object, not one: the run stops
REFUSALS = {"AccessDenied", "AllAccessDisabled", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
HEAD_THREADS = 4  # objects looked up at once (each waits on the network)
VERSIONS = "_versions"  # earlier versions of replaced objects: _versions/<UTC time>/<key>
CONFLICT_TODO = ("if the item really changed, run again with --new-version: the stored object is kept as "
                 f"a previous version under {VERSIONS}/ and the new one takes its place")


@contextmanager
def refusals(where: str):
    """A store on a full or read-only disk, or one the service user may not write, keeps nothing:
    StorageRefused, which stops the run (other OSErrors stay what they are)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in files.UNWRITABLE:
            raise
        raise StorageRefused(f"the store cannot be written ({exc.strerror})", where,
                             "make the store writable for the service user (or free space), then run again: "
                             "finished items are stored then") from None


def version_key(key: str) -> str:
    return f"{VERSIONS}/{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}/{key}"


@dataclass
class Stored:
    key: str
    size: int
    sha256: str | None  # as recorded with the object (None if it carries no record)


class Store:
    """What every store offers. The put policy lives here, once: an identical object already there
    is not sent again; a different one is a conflict, unless ``new_version`` keeps it as a previous
    version first; what is sent is verified against its SHA-256."""

    def url(self, key: str) -> str:
        raise NotImplementedError

    def head(self, key: str) -> Stored | None:
        raise NotImplementedError

    def read_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def read_sha256(self, key: str) -> str:
        raise NotImplementedError

    def read_chunks(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The object's bytes a chunk at a time (a large file served without holding it whole)."""
        raise NotImplementedError

    def keys(self, prefix: str = "") -> list[str]:
        raise NotImplementedError

    def _same(self, key: str, existing: Stored, size: int, sha256: str) -> bool:
        """Whether the object already at ``key`` is the one being put."""
        raise NotImplementedError

    def _keep_version(self, key: str, existing: Stored) -> None:
        """Keep the object at ``key`` under its version key before it is replaced."""
        raise NotImplementedError

    def _send(self, source: Path, key: str, size: int, sha256: str) -> None:
        """Write the object and verify it; raise StorageError if what arrived differs."""
        raise NotImplementedError

    def check_writable(self) -> None:
        """Raise StorageRefused if the store cannot keep anything (checked before a run's work)."""

    def put(self, source: Path, key: str, sha256: str, new_version: bool = False) -> bool:
        """Store a file whose SHA-256 is known; False if the identical object was already there."""
        with refusals(self.url(key)):
            return self._put(source, key, sha256, new_version)

    def _put(self, source: Path, key: str, sha256: str, new_version: bool) -> bool:
        size = source.stat().st_size
        existing = self.head(key)
        if existing is not None:
            if self._same(key, existing, size, sha256):
                return False
            if not new_version:
                raise StorageConflict("a different object is already stored under this key", self.url(key),
                                      CONFLICT_TODO)
            self._keep_version(key, existing)
        self._send(source, key, size, sha256)
        return True

    def replace(self, source: Path, key: str, sha256: str) -> None:
        """Put a good copy where the object is missing or damaged, the damaged one kept as a previous
        version. Unlike put, the object there is never taken for the same: an S3 object can carry
        the right recorded SHA-256 over bytes that rotted."""
        existing = self.head(key)
        if existing is not None:
            self._keep_version(key, existing)
        self._send(source, key, source.stat().st_size, sha256)


class FolderStore(Store):
    """Objects as files under a root folder; keys are relative paths."""

    def __init__(self, root: Path):
        self.root = root

    def check_writable(self) -> None:
        with refusals(self.root.as_uri()):
            files.probe_writable(self.root)

    def url(self, key: str) -> str:
        return (self.root / key).resolve().as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError("key points outside the store", key, "report this as a bug")
        return path

    def head(self, key: str) -> Stored | None:
        path = self._path(key)
        return Stored(key, path.stat().st_size, None) if path.is_file() else None

    def read_sha256(self, key: str) -> str:
        return files.sha256_file(self._path(key))

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def read_chunks(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        with self._path(key).open("rb") as source:
            while data := source.read(chunk):
                yield data

    def _same(self, key: str, existing: Stored, size: int, sha256: str) -> bool:
        return existing.size == size and self.read_sha256(key) == sha256

    def _keep_version(self, key: str, existing: Stored) -> None:
        previous = self._path(version_key(key))
        previous.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(key), previous)

    def _send(self, source: Path, key: str, size: int, sha256: str) -> None:
        try:  # hashed as it is copied: the copy is put in place only if its bytes are the ones recorded
            files.copy_hashed(source, self._path(key), expected=sha256)
        except files.ChecksumMismatch:
            raise StorageError("the file differs from the SHA-256 recorded when it was written", self.url(key),
                               "the output changed on disk after it was made; run the item again") from None

    def keys(self, prefix: str = "") -> list[str]:
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))


class S3Store(Store):
    """Objects in a bucket of an S3-compatible server, under an optional key prefix. The endpoint
    and credentials come from the standard AWS settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...,
    or ~/.aws); they never appear in our messages."""

    def __init__(self, bucket: str, prefix: str = "", multipart_threshold: int = 64 << 20,
                 part_size: int = 16 << 20, attempts: int = 4, timeout: float = 20.0):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.multipart_threshold, self.part_size = multipart_threshold, part_size
        self.client = boto3.client("s3", config=Config(
            retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=timeout,
            read_timeout=timeout, s3={"addressing_style": "path"},
            request_checksum_calculation="when_required", response_checksum_validation="when_required"))

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _call(self, operation: str, key: str, missing_ok: bool = False, **kwargs):
        """One request (boto3 retries it); failures become our errors. With ``missing_ok`` a 404
        answer gives None."""
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError

        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if missing_ok and status == 404:
                return None
            if status >= 500 or error.get("Code") in ("SlowDown", "ServiceUnavailable", "RequestTimeout"):
                raise StorageUnavailable(f"the store answers {status} {error.get('Code', '')} (after retries)",
                                         self.url(key), "the item waits for storage; run again later") from None
            if error.get("Code") in REFUSALS:
                raise StorageRefused(f"the store refuses {operation}: {error.get('Code', '')}", self.url(key),
                                     "check the bucket name and that the credentials may write to it") from None
            raise StorageError(f"the store refused {operation}: {error.get('Code', '')} {error.get('Message', '')}",
                               self.url(key), "check the bucket name, permissions and the file") from None
        except (BotoConnectionError, BotoCoreError) as exc:
            raise StorageUnavailable(f"the store cannot be reached ({type(exc).__name__})", self.url(key),
                                     "the item waits for storage; run again when the store is back") from None

    def head(self, key: str) -> Stored | None:
        answer = self._call("head_object", key, missing_ok=True, Key=self._key(key))
        if answer is None:
            return None
        return Stored(key, answer["ContentLength"], answer.get("Metadata", {}).get("sha256"))

    def read_sha256(self, key: str) -> str:
        answer = self._call("get_object", key, Key=self._key(key))
        return files.sha256_stream(answer["Body"])

    def read_bytes(self, key: str) -> bytes:
        return self._call("get_object", key, Key=self._key(key))["Body"].read()

    def read_chunks(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        body = self._call("get_object", key, Key=self._key(key))["Body"]
        try:
            yield from body.iter_chunks(chunk)
        finally:
            body.close()

    def _same(self, key: str, existing: Stored, size: int, sha256: str) -> bool:
        return existing.sha256 == sha256 and existing.size == size

    def _keep_version(self, key: str, existing: Stored) -> None:
        previous = version_key(key)
        self._call("copy_object", key, Key=self._key(previous), MetadataDirective="COPY",
                   CopySource={"Bucket": self.bucket, "Key": self._key(key)})
        kept = self.head(previous)
        if kept is None or kept.size != existing.size:
            raise StorageError("the previous version could not be kept", self.url(previous),
                               "nothing was replaced; check the store")

    def _send(self, source: Path, key: str, size: int, sha256: str, checksum: str | None = None) -> None:
        """``checksum`` (base64 SHA-256) is what we tell the server; only tests pass a wrong one."""
        checksum = checksum or base64.b64encode(bytes.fromhex(sha256)).decode()
        if size <= self.multipart_threshold:
            with source.open("rb") as body:
                self._call("put_object", key, Key=self._key(key), Body=body, ChecksumSHA256=checksum,
                           Metadata={"sha256": sha256})
        else:
            self._multipart(source, key, sha256)
        self.verify(key, size, sha256)

    def _multipart(self, source: Path, key: str, sha256: str) -> None:
        upload = self._call("create_multipart_upload", key, Key=self._key(key), ChecksumAlgorithm="SHA256",
                            Metadata={"sha256": sha256})["UploadId"]
        try:
            parts = []
            with source.open("rb") as handle:
                for number, chunk in enumerate(iter(lambda: handle.read(self.part_size), b""), start=1):
                    checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                    answer = self._call("upload_part", key, Key=self._key(key), UploadId=upload,
                                        PartNumber=number, Body=chunk, ChecksumSHA256=checksum)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum})
            self._call("complete_multipart_upload", key, Key=self._key(key), UploadId=upload,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            try:  # leave no partial object behind
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload)
            except Exception:
                pass  # the store is gone; its lifecycle rules clean up abandoned uploads
            raise

    def verify(self, key: str, size: int, sha256: str) -> None:
        stored = self.head(key)
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise StorageError("the stored object does not match the file (size or SHA-256)", self.url(key),
                               "run again; if it persists, check the store")
        if size <= READ_BACK_LIMIT and self.read_sha256(key) != sha256:
            raise StorageError("the stored object reads back differently (SHA-256)", self.url(key),
                               "run again; if it persists, check the store")

    def keys(self, prefix: str = "") -> list[str]:
        found, token = [], None
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        while True:
            extra = {"ContinuationToken": token} if token else {}
            answer = self._call("list_objects_v2", prefix, Prefix=full, **extra)
            found += [o["Key"][len(self.prefix) + 1 if self.prefix else 0:] for o in answer.get("Contents", [])]
            if not answer.get("IsTruncated"):
                return found
            token = answer["NextContinuationToken"]


MANIFEST = "stored.json"


def read_manifest(store: Store, key: str) -> StoredManifest:
    return StoredManifest.model_validate_json(store.read_bytes(key))


def check(store: Store, key: str, size: int, sha256: str) -> tuple[str, str] | None:
    """The object at ``key`` read again against the size and SHA-256 it was stored with: None if
    it is intact, else ("missing" or "changed", what differs)."""
    found = store.head(key)
    if found is None:
        return "missing", "not in the store"
    if found.size != size:
        return "changed", f"{found.size} bytes, {size} recorded"
    if store.read_sha256(key) != sha256:
        return "changed", "its SHA-256 differs from the one recorded"
    return None


def missing(store: Store, prefix: str, names: Iterable[str]) -> list[str]:
    """The objects ``prefix/name`` that the store does not hold: one HEAD each, a few at once."""
    names = list(names)
    with ThreadPoolExecutor(max_workers=HEAD_THREADS) as pool:
        futures = [pool.submit(store.head, f"{prefix}/{name}") for name in names]
        try:
            found = [future.result() for future in futures]
        except BaseException:  # the store is down: the other lookups would only wait out their retries
            pool.shutdown(cancel_futures=True)
            raise
    return [name for name, stored in zip(names, found) if stored is None]


def open_store(url: str, multipart_threshold: int = 64 << 20) -> Store:
    """`file:///path` or `s3://bucket/prefix`. Credentials in the URL are refused: the URL goes into
    messages, reports, METS and stored.json."""
    parsed = urlparse(url)
    # a bucket name holds no ":" (an AWS secret key may hold "/", which ends the netloc early);
    # the message never echoes the URL
    if "@" in parsed.netloc or (parsed.scheme == "s3" and ":" in parsed.netloc):
        raise ConfigError("credentials do not belong in the store URL", "DIGITIZE_STORE",
                          "give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws) and set "
                          "DIGITIZE_STORE=s3://bucket/prefix")
    if parsed.scheme == "file":
        return FolderStore(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Store(parsed.netloc, parsed.path, multipart_threshold=multipart_threshold)
    if parsed.scheme == "":
        return FolderStore(Path(url))
    raise StorageError(f"unknown store {shown_url(url)!r}", "DIGITIZE_STORE", "use file:///path or s3://bucket/prefix")
