#!/usr/bin/env python3
"""OCR quality on degraded Vietnamese pages: CER, word error rate and the share of word errors that
are diacritic-only, for bare Tesseract, OCRmyPDF's sidecar text and the pipeline with and without
the diacritic correction, on the same rendered pages in one run. Prints a table; not a test.

    .venv/bin/python bench/ocr_quality.py [--pages-per-set 4] [--dpi 200 300] [--level moderate hard]
        [--systems tesseract ocrmypdf plain corrected] [--ocr-line-height 30] [--workers 2] [--keep DIR]

Pages are rendered with scripts/vnpages.py from bench/texts/ke-hoach-vinh-phuc.txt, a text the
corrector's frequencies are NOT built from (scripts/build_vietnamese_data.py), each set (dpi, level,
font) starting at another paragraph. 11 pt on A4.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from hashlib import sha256
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import vnpages  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from digitize.engine import pipeline  # noqa: E402
from digitize.core.models import PageSource  # noqa: E402
from digitize.core.profiles import load_profiles  # noqa: E402
from digitize.core.vietnamese import strip_marks  # noqa: E402

TEXT = ROOT / "bench" / "texts" / "ke-hoach-vinh-phuc.txt"
FONTS = {"Noto Serif": "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
         "Noto Sans": "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
         "DejaVu Serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"}
SYSTEMS = {"tesseract": "bare tesseract (CLI, -l vie)", "ocrmypdf": "OCRmyPDF sidecar (--deskew)",
           "plain": "pipeline, no correction", "corrected": "pipeline with correction"}
VENV_BIN = Path(sys.executable).parent


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def scores(hyp: str, ref: str) -> dict:
    """Character edits, word edits, diacritic-only word substitutions, reference characters and words."""
    h, r = norm(hyp), norm(ref)
    hw, rw = h.split(), r.split()
    ops = Levenshtein.editops(hw, rw)
    diacritic = sum(o.tag == "replace" and strip_marks(hw[o.src_pos]) == strip_marks(rw[o.dest_pos]) for o in ops)
    return {"chars": Levenshtein.distance(h, r), "ref_chars": len(r), "words": len(ops), "ref_words": len(rw),
            "diacritic": diacritic}


def render(work: Path, dpis, levels, per_set: int) -> list[dict]:
    paragraphs = re.split(r"\n\s*\n", TEXT.read_text(encoding="utf-8"))
    pages, index = [], 0
    for dpi in dpis:
        for level in levels:
            for font, path in FONTS.items():
                shift = (index * 7) % len(paragraphs)  # each set starts at another paragraph
                text = work / f"text-{index}.txt"
                text.write_text("\n\n".join(paragraphs[shift:] + paragraphs[:shift]), encoding="utf-8")
                folder = work / f"set-{index}"
                for entry in vnpages.render_pages(text, folder, per_set, seed=100 + index, level=level, dpi=dpi,
                                                  font=path, fmt="png"):
                    pages.append({"image": str(folder / entry["image"]), "gt": str(folder / entry["gt"]),
                                  "dpi": dpi, "level": level, "font": font})
                index += 1
    return pages


def run_page(page: dict, systems: list[str], line_height: int | None) -> dict:
    image, dpi = Path(page["image"]), page["dpi"]
    truth = Path(page["gt"]).read_text(encoding="utf-8")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    result = {**page, "scores": {}, "seconds": {}, "corrections": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for system in systems:
            clock = time.perf_counter()
            if system == "tesseract":
                text = subprocess.run(["tesseract", str(image), "stdout", "-l", "vie", "--dpi", str(dpi)], env=env,
                                      capture_output=True, text=True, check=True).stdout
            elif system == "ocrmypdf":
                sidecar = tmp / "sidecar.txt"
                subprocess.run([str(VENV_BIN / "ocrmypdf"), "-q", "-l", "vie", "--deskew", "--image-dpi", str(dpi),
                                "--sidecar", str(sidecar), "--output-type", "pdf", "--optimize", "0", "--jobs", "1",
                                str(image), str(tmp / "out.pdf")], env=env, capture_output=True, check=True)
                text = sidecar.read_text(encoding="utf-8")
            else:
                profile = load_profiles(ROOT / "src" / "digitize" / "data" / "profiles")["quoc-ngu-modern"]
                update = {"correct_diacritics": system == "corrected"}
                if line_height is not None:
                    update["preprocessing"] = profile.preprocessing.model_copy(update={"ocr_line_height": line_height})
                source = PageSource(number=1, path=image, name=image.name, size=image.stat().st_size, dpi=dpi,
                                    sha256=sha256(image.read_bytes()).hexdigest())
                record = pipeline.process_page(source, profile.model_copy(update=update), tmp / system)
                text = (tmp / system / record.text_file).read_text(encoding="utf-8")
                result["corrections"] += record.corrections
                result.setdefault("ocr_seconds", {})[system] = record.timings["ocr"]
            result["seconds"][system] = time.perf_counter() - clock
            result["scores"][system] = scores(text, truth)
    return result


def table(results: list[dict], systems: list[str]) -> str:
    groups = {}
    for r in results:
        groups.setdefault(f"{r['dpi']} dpi {r['level']}", []).append(r)
    groups["all"] = results
    lines = ["| pages | n | " + " | ".join(f"{SYSTEMS[s]}: CER / WER / diacritic-only" for s in systems) + " |",
             "|---|---|" + "---|" * len(systems)]
    for name, rows in groups.items():
        cells = []
        for s in systems:
            total = {k: sum(r["scores"][s][k] for r in rows) for k in rows[0]["scores"][s]}
            share = total["diacritic"] / total["words"] if total["words"] else 0
            cells.append(f"{total['chars'] / total['ref_chars']:.2%} / {total['words'] / total['ref_words']:.2%} "
                         f"({total['words']}) / {share:.0%} ({total['diacritic']})")
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages-per-set", type=int, default=4)
    parser.add_argument("--dpi", type=int, nargs="+", default=[200, 300])
    parser.add_argument("--level", nargs="+", default=["moderate", "hard"], choices=["moderate", "hard"])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--ocr-line-height", type=int, default=None, help="override the profile's (pipeline)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="render into this folder and keep it")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ocr-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        pages = render(work, args.dpi, args.level, args.pages_per_set)
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(run_page, pages, [args.systems] * len(pages),
                                    [args.ocr_line_height] * len(pages)))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(pages)} pages, fonts {', '.join(FONTS)}; cells: CER / WER (word errors) / share of word errors "
          "that are diacritic-only (count)")
    print(table(results, args.systems))
    if {"plain", "corrected"} <= set(args.systems):
        wer = {s: [r["scores"][s]["words"] for r in results] for s in ("plain", "corrected")}
        worse = sum(c > p for p, c in zip(wer["plain"], wer["corrected"]))
        better = sum(c < p for p, c in zip(wer["plain"], wer["corrected"]))
        print(f"correction: {sum(r['corrections'] for r in results)} words changed; pages better {better}, "
              f"worse {worse}, same {len(results) - better - worse}")
    for s in args.systems:
        if s in ("plain", "corrected"):
            ocr = [r["ocr_seconds"][s] for r in results]
            print(f"{SYSTEMS[s]}: OCR step {sum(ocr) / len(ocr):.2f} s per page (mean, {args.workers} at once)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
