#!/usr/bin/env python3
"""Write the bundled sample batch sample_scans/ and its ground truth tests/data/sample_truth/.

Deterministic (fixed seeds): running it again gives byte-identical files.
Two items, 7 pages, A5 at 300 dpi, rendered from scripts/corpus/ with vnpages.render_pages:

  HD-DC-0001  0001.tif grey LZW, 0002.jpg colour, 0003.png turned 90° clockwise,
              0004.jp2 lossless JPEG 2000
  HN-TK-0002  0001.tif two 1-bit CCITT G4 frames (pages 1-2), 0002.tif 16-bit faded page

Usage: python scripts/make_sample_scans.py
"""
import json, shutil, struct, tempfile
from pathlib import Path
import numpy as np
from PIL import Image
from vnpages import render_pages

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "scripts" / "corpus"
SCANS = ROOT / "sample_scans"
TRUTH = ROOT / "tests" / "data" / "sample_truth"
DPI = 300


def yellow(img):
    a = np.asarray(img, dtype=np.float32)[..., None] * np.array([1.0, 0.96, 0.84])
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")


def binarize(img, threshold=128):
    return img.point(lambda v: 255 if v > threshold else 0).convert("1", dither=Image.Dither.NONE)


def to_uint16(img):
    return Image.fromarray(np.asarray(img, dtype=np.uint16) * 257)


def save_jp2(img, path, dpi):
    """Lossless JPEG 2000; Pillow does not write a resolution box, so add a 'res '/'resc' box."""
    img.save(path, "JPEG2000", irreversible=False)
    data = path.read_bytes()
    # capture resolution in dots per metre as num/denom * 10^exp: dpi/0.0254 = dpi*100/254 * 10^2
    resc = struct.pack(">HHHHBB", dpi * 100, 254, dpi * 100, 254, 2, 2)
    resc = struct.pack(">I4s", 8 + len(resc), b"resc") + resc
    res = struct.pack(">I4s", 8 + len(resc), b"res ") + resc
    pos = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"jp2h":
            body = data[pos + 8:pos + length] + res
            header = struct.pack(">I4s", len(body) + 8, b"jp2h") + body
            path.write_bytes(data[:pos] + header + data[pos + length:])
            return
        pos += length
    raise ValueError(f"no jp2h box in {path}")


def save_hd(images, dest):
    kw = {"dpi": (DPI, DPI)}
    images[0].save(dest / "0001.tif", compression="tiff_lzw", **kw)
    yellow(images[1]).save(dest / "0002.jpg", quality=85, **kw)
    images[2].save(dest / "0003.png", **kw)
    save_jp2(images[3], dest / "0004.jp2", DPI)
    return [("0001.tif", 0, "tiff_lzw"), ("0002.jpg", 0, "jpeg"), ("0003.png", 0, "png"),
            ("0004.jp2", 0, "jpeg2000")]


def save_hn(images, dest):
    kw = {"dpi": (DPI, DPI)}
    first, second = binarize(images[0]), binarize(images[1])
    first.save(dest / "0001.tif", compression="group4", save_all=True, append_images=[second], **kw)
    to_uint16(images[2]).save(dest / "0002.tif", compression="tiff_adobe_deflate", **kw)
    return [("0001.tif", 0, "tiff_group4"), ("0001.tif", 1, "tiff_group4"),
            ("0002.tif", 0, "tiff_adobe_deflate")]


ITEMS = [
    {
        "meta": {
            "id": "HD-DC-0001",
            "title": "Kế hoạch chuyển đổi số ngành thư viện tỉnh Hải Dương",
            "creator": "Ủy ban nhân dân tỉnh Hải Dương",
            "date": "2023",
            "call_number": "ĐC.2023.001",
            "library": "HD-TV",
            "category": "dia_chi",
            "access": "open",
            "language": "vie",
            "profile": "quoc-ngu-modern",
        },
        "text": "ke-hoach-hai-duong.txt",
        "seed": 2023,
        "level": "moderate",
        "skew": [3.0, -2.0, 0.8, 0.0],
        "turn": [0, 0, 90, 0],
        "border": [False, True, False, False],
        "pages": 4,
        "save": save_hd,
    },
    {
        "meta": {
            "id": "HN-TK-0002",
            "title": "Truyện Kiều (bản 1866)",
            "creator": "Nguyễn Du",
            "date": "1866",
            "call_number": "HN.1866.002",
            "library": "HD-TV",
            "category": "rare",
            "access": "open",
            "language": "vie",
            "profile": "quoc-ngu-old",
        },
        "text": "truyen-kieu-1866.txt",
        "seed": 1866,
        "level": ["moderate", "moderate", "hard"],
        "skew": [0.0, -1.0, -4.0],
        "turn": 0,
        "border": [False, False, False],
        "pages": 3,
        "save": save_hn,
    },
]


def item_toml(meta):
    return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in meta.items())


def write_holdings(path):
    """A small holdings register of the sample library: the two sample items and what is not yet
    digitized (folders starting with '_' are not items of the batch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [("ĐC.2023.001", "Kế hoạch chuyển đổi số ngành thư viện tỉnh Hải Dương", "2023", "dia_chi"),
            ("ĐC.2019.014", "Địa chí huyện Kinh Môn", "2019", "dia_chi"),
            ("ĐC.2008.001", "Địa chí Hải Dương", "2008", "dia_chi"),
            ("HN.1866.002", "Truyện Kiều (bản 1866)", "1866", "rare"),
            ("HN.1902.005", "Đại Nam nhất thống chí", "1902", "rare"),
            ("VV.1998.120", "Tạp chí Văn hóa Hải Dương", "1998", "other")]
    lines = ["call_number,title,date,category"] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    for folder in (SCANS, TRUTH):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    truth = {}
    for item in ITEMS:
        item_id = item["meta"]["id"]
        dest, gt_dir = SCANS / item_id, TRUTH / item_id
        dest.mkdir(); gt_dir.mkdir()
        (dest / "item.toml").write_text(item_toml(item["meta"]), encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            rendered = render_pages(CORPUS / item["text"], tmp, item["pages"], item["seed"],
                                    level=item["level"], dpi=DPI, paper="A5", skew=item["skew"],
                                    turn=item["turn"], fmt="png", border=item["border"])
            assert len(rendered) == item["pages"]
            saved = item["save"]([Image.open(tmp / r["image"]) for r in rendered], dest)
            pages = []
            for number, (r, (file, frame, fmt)) in enumerate(zip(rendered, saved), 1):
                gt = f"{number:04d}.gt.txt"
                shutil.copyfile(tmp / r["gt"], gt_dir / gt)
                pages.append({"page": number, "file": file, "frame": frame, "gt": gt,
                              "skew_deg": r["skew_deg"], "turned_cw": r["turned_cw"],
                              "level": r["level"], "format": fmt, "dpi": DPI, "paper": "A5",
                              "scanner_border": r.get("scanner_border", False)})
        truth[item_id] = pages
    (TRUTH / "manifest.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    write_holdings(SCANS / "_holdings" / "HD-TV.csv")
    print(f"{sum(map(len, truth.values()))} pages in {len(truth)} items -> {SCANS}")


if __name__ == "__main__":
    main()
