"""The IIIF consortium's validator against `digitize web`: its test picture digitized as the page
of an item (a profile that leaves the page as scanned, so its colours survive), stored in the folder
store and in the Swift S3 store, and served from each by a real `digitize web` process."""

from __future__ import annotations

import shutil

import pytest

from conftest import free_port, invoke_cli, start_cli, wait_until_answers
from digitize.core.settings import PACKAGED_PROFILES
from iiif_validator import run_validator, validator_image

pytestmark = pytest.mark.slow

AS_SCANNED = """name = "as-scanned"
description = "Pages kept as scanned (test profile): no turning, deskewing, cropping or flattening"
languages = ["vie"]
min_dpi = 200
jpeg_quality = 95

[preprocessing]
orientation = false
deskew = false
crop = false
normalize = false
binarize = false
cleanup = 1
"""


def digitized(root, **settings):
    """The validator's picture as page 1 of item VALID-1 of library TEST, digitized and stored."""
    profiles, batch = root / "profiles", root / "batch"
    shutil.copytree(PACKAGED_PROFILES, profiles)
    (profiles / "materials" / "as-scanned.toml").write_text(AS_SCANNED, encoding="utf-8")
    (profiles / "libraries.toml").write_text('[TEST]\nname = "Thư viện thử"\nprovince = "hai-duong"\n'
                                             'tier = "provincial"\n', encoding="utf-8")
    (batch / "VALID-1").mkdir(parents=True)
    validator_image().save(batch / "VALID-1" / "0001.png")
    (batch / "VALID-1" / "item.toml").write_text('id = "VALID-1"\ntitle = "IIIF validator"\nlibrary = "TEST"\n'
                                                 'access = "open"\nprofile = "as-scanned"\ndpi = 300\n',
                                                 encoding="utf-8")
    settings |= {"data": str(root / "data"), "profiles": str(profiles)}
    done = invoke_cli("run", str(batch), **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    return settings


def validate(root, settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_cli(root / "web.log", "web", "--port", str(port), public_url=base, **settings)
    try:
        wait_until_answers(f"{base}/iiif/TEST/VALID-1/1/info.json", 60, process=server, log=root / "web.log")
        passed, log = run_validator(base, "iiif/TEST/VALID-1", "1", level=1)
        assert passed, log
        broken, _ = run_validator(base, "iiif/TEST/VALID-1", "2")  # a page the item does not have
        assert not broken
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_validator_passes_level_1_from_the_folder_store(tmp_path):
    validate(tmp_path, digitized(tmp_path))


def test_the_validator_passes_level_1_from_the_s3_store(tmp_path, swift, monkeypatch):
    for name, value in swift.env.items():
        monkeypatch.setenv(name, value)
    settings = digitized(tmp_path, store=f"s3://{swift.bucket('iiif-pages')}/provincial")
    assert not (tmp_path / "data" / "store").exists()  # the pages are in the bucket only
    shutil.rmtree(tmp_path / "data" / "out")  # the web process reads the store, not the output folder
    validate(tmp_path, settings)
