#!/usr/bin/env python3
"""Upload throughput: our verified store (SHA-256 sent and checked, HEAD and read-back after
upload, multipart with per-part checksums) against a plain boto3 `upload_file` of the same files
to the same server: a real Swift with the S3 API on loopback, started for the run.

Run: .venv/bin/python bench/storage_throughput.py [--small 16] [--small-mb 4] [--large 1] [--large-mb 96]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from conftest import Swift, free_port_block, swift_python  # noqa: E402
from digitize.store.storage import S3Store  # noqa: E402


def make_files(folder: Path, count: int, megabytes: int, tag: str) -> list[Path]:
    files = []
    for i in range(count):
        path = folder / f"{tag}-{i:03d}.bin"
        path.write_bytes(os.urandom(megabytes << 20))
        files.append(path)
    return files


def timed(upload, files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        upload(path)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=16)
    ap.add_argument("--small-mb", type=int, default=4)
    ap.add_argument("--large", type=int, default=1)
    ap.add_argument("--large-mb", type=int, default=96)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="digitize-store-bench-"))
    swift = Swift(work / "swift", free_port_block(), swift_python())
    swift.start()
    try:
        os.environ.update(swift.env)
        client = swift.client()
        client.create_bucket(Bucket="bench")
        files = make_files(work, a.small, a.small_mb, "small") + make_files(work, a.large, a.large_mb, "large")
        total_mb = sum(p.stat().st_size for p in files) / (1 << 20)
        digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}  # known from intake
        store = S3Store("bench", "ours")
        ours = timed(lambda p: store.put(p, p.name, digests[p]), files)
        plain = timed(lambda p: client.upload_file(str(p), "bench", f"plain/{p.name}"), files)
    finally:
        swift.stop()
    print(f"{len(files)} files, {total_mb:.0f} MB ({a.small} x {a.small_mb} MB, {a.large} x {a.large_mb} MB), "
          "Swift S3 API on 127.0.0.1")
    print(f"{'method':<34} {'seconds':>8} {'MB/s':>8}")
    print(f"{'ours (checksummed, verified)':<34} {ours:>8.1f} {total_mb / ours:>8.1f}")
    print(f"{'plain boto3 upload_file':<34} {plain:>8.1f} {total_mb / plain:>8.1f}")
    print(f"ours / plain: {plain / ours:.2f}x the throughput")


if __name__ == "__main__":
    main()
