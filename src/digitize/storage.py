"""Where finished items are kept: a local folder (the default) or S3-compatible object storage.

Every object goes with its SHA-256 (sent to the server, which must refuse a mismatch, and kept as
object metadata), is verified after it arrives, is never overwritten silently, and an identical
object already there is not sent again.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

from digitize import files
from digitize.errors import StorageConflict, StorageError, StorageUnavailable
from digitize.models import StoredManifest

READ_BACK_LIMIT = 8 << 20  # objects up to this size are read back and hashed after upload
VERSIONS = "_versions"  # earlier versions of replaced objects: _versions/<UTC time>/<key>
CONFLICT_TODO = ("if the item really changed, run again with --new-version: the stored object is kept as "
                 f"a previous version under {VERSIONS}/ and the new one takes its place")


def version_key(key: str) -> str:
    return f"{VERSIONS}/{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}/{key}"


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

    def put(self, source: Path, key: str, sha256: str, new_version: bool = False) -> bool:
        """Store a file whose SHA-256 is known; False if the identical object was already there."""
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


class FolderStore(Store):
    """Objects as files under a root folder; keys are relative paths."""

    def __init__(self, root: Path):
        self.root = root

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


def audit(store: Store, library: str = "") -> tuple[int, list[tuple[str, str]]]:
    """Re-read every object that the stored items' manifests list and compare it with the SHA-256
    recorded when it was stored. Returns how many objects were checked and the (url, problem) of
    each missing or changed one."""
    checked, problems = 0, []
    manifests = [k for k in store.keys(f"{library}/" if library else "")
                 if k.endswith(f"/{MANIFEST}") and not k.startswith(f"{VERSIONS}/")]
    for manifest in manifests:
        prefix = manifest[: -len(MANIFEST)]
        for relative, recorded in read_manifest(store, manifest).objects.items():
            key = prefix + relative
            checked += 1
            found = store.head(key)
            if found is None:
                problems.append((store.url(key), "missing"))
            elif found.size != recorded.size:
                problems.append((store.url(key), f"changed: {found.size} bytes, {recorded.size} recorded"))
            elif store.read_sha256(key) != recorded.sha256:
                problems.append((store.url(key), "changed: its SHA-256 differs from the one recorded"))
    return checked, problems


def open_store(url: str, multipart_threshold: int = 64 << 20) -> Store:
    """`file:///path` or `s3://bucket/prefix`."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FolderStore(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Store(parsed.netloc, parsed.path, multipart_threshold=multipart_threshold)
    if parsed.scheme == "":
        return FolderStore(Path(url))
    raise StorageError(f"unknown store {url!r}", "DIGITIZE_STORE", "use file:///path or s3://bucket/prefix")
