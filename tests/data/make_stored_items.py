#!/usr/bin/env python3
"""Write tests/data/stored/: two small items as `digitize run` stores them, for the tests of
OAI-PMH, the exports and the standards metadata (which then need no OCR run of their own).

The items are the two sample items (same item.toml: HD-DC-0001 and HN-TK-0002 of library HD-TV)
with tiny pages: the first lines of each corpus text rendered with scripts/vnpages.py on A7 paper
at 200 dpi, cut down to a strip. HD-DC-0001: 0001.jpg (grey JPEG, skewed 2°) and 0002.tif (1-bit CCITT G4);
HN-TK-0002: 0001.tif (two 1-bit G4 frames, pages 1-2). The real pipeline runs on them once, with
SOURCE_DATE_EPOCH set, in the fixed folder WORK below, so running this again gives the same bytes
(with the same Tesseract and libraries). The METS hrefs, the DC identifiers, the PDFs' XMP and
stored.json name the store by its URL under WORK (file:///tmp/digitize-stored-items/data/store/...);
the tests copy the fixture elsewhere and map that URL onto their copy (conftest.StoredItems).

Written:
  tests/data/stored/scans/<item>/...       the batch: item.toml and the original page files
  tests/data/stored/store/HD-TV/<item>/... the store of the run (PDF/A, text, ALTO, masters,
                                           dc.xml, mets.xml, stored.json)
  tests/data/stored/manifest.json          the pages of each item: file and frame, in order
  tests/data/stored/README.md              where these files come from

Usage: .venv/bin/python tests/data/make_stored_items.py
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import vnpages  # noqa: E402

CORPUS = ROOT / "scripts" / "corpus"
FIXTURE = ROOT / "tests" / "data" / "stored"
WORK = Path("/tmp/digitize-stored-items")  # fixed: the stored files name it (see above)
EPOCH = "1790000000"  # SOURCE_DATE_EPOCH, as tests/conftest.py EPOCH
DPI = 200  # the profiles' min_dpi
PAPER = "A7"
vnpages.PAPER_MM.setdefault(PAPER, (74, 105))  # small pages keep the fixture small
LIBRARY = "HD-TV"

ITEMS = {
    "HD-DC-0001": {"title": "Kế hoạch chuyển đổi số ngành thư viện tỉnh Hải Dương",
                   "creator": "Ủy ban nhân dân tỉnh Hải Dương", "date": "2023", "call_number": "ĐC.2023.001",
                   "library": LIBRARY, "category": "dia_chi", "access": "open", "language": "vie",
                   "profile": "quoc-ngu-modern"},
    "HN-TK-0002": {"title": "Truyện Kiều (bản 1866)", "creator": "Nguyễn Du", "date": "1866",
                   "call_number": "HN.1866.002", "library": LIBRARY, "category": "rare", "access": "open",
                   "language": "vie", "profile": "quoc-ngu-old"},
}


README = """\
Two small items as `digitize run` stored them (library HD-TV, items HD-DC-0001 and HN-TK-0002, two
pages each), for the tests that read stored items (test_oai, test_export, test_metadata).
Written by tests/data/make_stored_items.py (do not edit by hand; run it again): scans/ is the
batch, store/ the store of the run, manifest.json the pages of each item. The stored files name
the store as file:///tmp/digitize-stored-items/data/store (see conftest.copy_stored_items).
"""


def item_toml(item_id: str, meta: dict) -> str:
    return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in {"id": item_id, **meta}.items())


def strips(text: str, seed: int, count: int, skew: list[float]) -> list[Image.Image]:
    """``count`` pages of a corpus text, each cut down to a strip of its first lines."""
    rng = random.Random(seed)
    paras = vnpages.paragraphs((CORPUS / text).read_text(encoding="utf-8"))
    pages = []
    for angle in skew:
        page, _ = vnpages.render(paras, vnpages.DEFAULT_FONT, 11.0, DPI, rng, PAPER)
        page = page.point(lambda v: int(30 + v / 255 * (230 - 30)))  # grey paper, dark ink
        page = page.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=230)
        width, height = page.size
        pages.append(page.crop((0, round(height * 0.05), width, round(height * 0.45))))
    assert len(pages) == count
    return pages


def bilevel(image: Image.Image) -> Image.Image:
    return image.point(lambda v: 255 if v > 128 else 0).convert("1", dither=Image.Dither.NONE)


def write_batch(batch: Path) -> dict[str, list[dict]]:
    kw = {"dpi": (DPI, DPI)}
    hd, hn = batch / "HD-DC-0001", batch / "HN-TK-0002"
    for item_id, folder in (("HD-DC-0001", hd), ("HN-TK-0002", hn)):
        folder.mkdir(parents=True)
        (folder / "item.toml").write_text(item_toml(item_id, ITEMS[item_id]), encoding="utf-8")
    first, second = strips("ke-hoach-hai-duong.txt", 2023, 2, [2.0, -1.0])
    first.filter(ImageFilter.GaussianBlur(0.5)).save(hd / "0001.jpg", quality=70, **kw)
    bilevel(second).save(hd / "0002.tif", compression="group4", **kw)
    first, second = strips("truyen-kieu-1866.txt", 1866, 2, [0.0, -1.5])
    bilevel(first).save(hn / "0001.tif", compression="group4", save_all=True, append_images=[bilevel(second)], **kw)
    return {"HD-DC-0001": [{"page": 1, "file": "0001.jpg", "frame": 0}, {"page": 2, "file": "0002.tif", "frame": 0}],
            "HN-TK-0002": [{"page": 1, "file": "0001.tif", "frame": 0}, {"page": 2, "file": "0001.tif", "frame": 1}]}


def make(target: Path = FIXTURE) -> None:
    """Run the pipeline on the tiny batch and write the fixture to ``target`` (replacing it)."""
    shutil.rmtree(WORK, ignore_errors=True)
    batch, data = WORK / "batch", WORK / "data"
    pages = write_batch(batch)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL" and not k.startswith("DIGITIZE_")}
    # no ClamAV daemon at this socket: the METS say "not scanned" the same way wherever this runs (a real
    # daemon's signature version and date would change the bytes)
    env.update(DIGITIZE_DATA=str(data), SOURCE_DATE_EPOCH=EPOCH, COLUMNS="200",
               DIGITIZE_CLAMD_SOCKET=str(WORK / "no-clamd.sock"))
    result = subprocess.run([sys.executable, "-m", "digitize.cli", "run", str(batch), "--out", str(data / "out"),
                             "--workers", "2"], env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0 or "items ok 2, failed 0" not in result.stdout:
        raise RuntimeError(f"the run failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copytree(batch, target / "scans")
    shutil.copytree(data / "store" / LIBRARY, target / "store" / LIBRARY)
    (target / "manifest.json").write_text(json.dumps(pages, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (target / "README.md").write_text(README, encoding="utf-8")
    shutil.rmtree(WORK)


if __name__ == "__main__":
    make()
    size = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    print(f"{len(list(FIXTURE.glob('scans/*')))} items -> {FIXTURE} ({size // 1024} KiB)")
