#!/usr/bin/env python3
"""Prove that a change left the pipeline's outputs byte-identical.

Runs `digitize run` of two source trees (--before: a git revision of this repository exported with
`git archive`, or a folder; --after: the working tree, or a folder) over the same batches, each run
with SOURCE_DATE_EPOCH=1790000000 and its own data folder (store and ledger), and compares:

* the SHA-256 of every output and stored object (PDF/A, METS, ALTO, text, DC, images, masters,
  stored.json...), except the run reports out/_reports/* (named by the time of the run);
* */pages/*.json and */item.json (they hold timings) as JSON, after dropping every key whose name
  contains "seconds", "time", "timing" (the page records' "timings"), "started", "finished" or "elapsed";
* the exit code of each run and what it printed, with timings (and the temporary paths) masked.

Batches: sample_scans/, tests/data/stored/scans/, and batches rendered once (given to both trees):
Vietnamese pages (scripts/vnpages.py, one of them set in two columns), a Hán page
(scripts/hanpages.py), and a batch with typical mistakes (a truncated TIFF, an item.toml with a
misspelt key).

Usage: .venv/bin/python bench/identical_outputs.py --before 343c3cc [--after PATH] [--keep]
Prints the number of files compared and every difference; exit 0 when identical, 1 otherwise.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
EPOCH = "1790000000"
TIMING_KEYS = ("seconds", "time", "timing", "started", "finished", "elapsed")
CORPUS = ROOT / "scripts" / "corpus"


# --- the trees ---------------------------------------------------------------------------------

def export_revision(revision: str, target: Path) -> Path:
    """The files of ``revision`` of this repository (git archive) in ``target``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision],
                             check=True, capture_output=True).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target)  # our own repository's archive (Python 3.11.2 has no tar filter)
    return target


def entry_point(tree: Path) -> tuple[str, str]:
    """(module, attribute) of the `digitize` command in the tree's pyproject.toml [project.scripts]."""
    scripts = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, attribute = scripts["digitize"].partition(":")
    return module, attribute


def tree_env(tree: Path, data: Path) -> dict[str, str]:
    """The environment of a command of ``tree``: its own code first on the path, its own data folder,
    none of the caller's DIGITIZE_* settings, no Prefect server."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DIGITIZE_", "PREFECT_API_URL", "PYTHONPATH"))}
    env.update({"PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}", "DIGITIZE_DATA": str(data),
                "SOURCE_DATE_EPOCH": EPOCH, "COLUMNS": "200", "PYTHONHASHSEED": "0"})
    return env


def run_tree(tree: Path, batch: Path, data: Path, workers: int) -> subprocess.CompletedProcess:
    module, attribute = entry_point(tree)
    code = (f"import sys; from {module} import {attribute} as command; sys.argv[0] = 'digitize'; "
            "command()")
    data.mkdir(parents=True)
    return subprocess.run([str(PYTHON), "-c", code, "run", str(batch), "--out", str(data / "out"),
                           "--workers", str(workers)],
                          env=tree_env(tree, data), cwd=data, capture_output=True, text=True, timeout=3600)


# --- the batches -------------------------------------------------------------------------------

def item_toml(item_id: str, title: str, profile: str, language: str = "vie", **extra: str) -> str:
    fields = {"id": item_id, "title": title, "library": "HD-TV", "category": "dia_chi", "access": "open",
              "language": language, "profile": profile, "date": "2026", **extra}
    return "".join(f'{key} = "{value}"\n' for key, value in fields.items())


def two_column_page(rng: random.Random, text: Path):
    """An A4 page of two columns of Vietnamese text (vnpages' renderer on a narrow paper), degraded."""
    import vnpages
    from PIL import Image

    dpi = 300
    vnpages.PAPER_MM["COLUMN"] = (100, 280)
    paras = vnpages.paragraphs(text.read_text(encoding="utf-8"))
    width, height = (int(mm / 25.4 * dpi) for mm in vnpages.PAPER_MM["A4"])
    page = Image.new("L", (width, height), 255)
    gt = []
    for column in range(2):
        image, lines = vnpages.render(paras, vnpages.DEFAULT_FONT, 10.0, dpi, rng, "COLUMN")
        page.paste(image, (int(0.03 * width) + column * (image.width + int(0.02 * width)), int(0.04 * height)))
        gt += lines
    page, _ = vnpages.degrade(page, rng, "moderate", skew=0.6, border=False)
    return page, gt


def make_batches(work: Path) -> dict[str, Path]:
    """The batches both trees run, made once under ``work``."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import hanpages
    import vnpages

    batches = {"sample_scans": work / "sample_scans", "stored_scans": work / "stored_scans"}
    shutil.copytree(ROOT / "sample_scans", batches["sample_scans"])
    shutil.copytree(ROOT / "tests" / "data" / "stored" / "scans", batches["stored_scans"])

    vn = batches["vietnamese"] = work / "vietnamese"
    pages = work / "rendered" / "vn-1"
    vnpages.render_pages(CORPUS / "truyen-kieu-1866.txt", pages, 2, seed=7, fmt=["tif", "jpg"], skew=[1.5, -2.0])
    (vn / "VN-1").mkdir(parents=True)
    for number, name in enumerate(["p001.tif", "p002.jpg"], 1):
        shutil.copy(pages / name, vn / "VN-1" / f"{number:04d}{Path(name).suffix}")
    (vn / "VN-1" / "item.toml").write_text(item_toml("VN-1", "Truyện Kiều", "quoc-ngu-old"), encoding="utf-8")
    (vn / "VN-2").mkdir()
    page, gt = two_column_page(random.Random(11), CORPUS / "ke-hoach-hai-duong.txt")
    page.save(vn / "VN-2" / "0001.png", dpi=(300, 300))
    (vn / "VN-2" / "item.toml").write_text(item_toml("VN-2", "Kế hoạch (hai cột)", "quoc-ngu-modern"),
                                           encoding="utf-8")

    han = batches["han"] = work / "han"
    pages = work / "rendered" / "han-1"
    hanpages.render_pages(CORPUS / "han-qianziwen.txt", pages, 1, seed=3, direction="vertical", fmt="png")
    (han / "HAN-1").mkdir(parents=True)
    shutil.copy(pages / "p001.png", han / "HAN-1" / "0001.png")
    (han / "HAN-1" / "item.toml").write_text(item_toml("HAN-1", "Thiên tự văn", "han-nom", "lzh"),
                                             encoding="utf-8")

    mistakes = batches["mistakes"] = work / "mistakes"
    pages = work / "rendered" / "mistakes"
    vnpages.render_pages(CORPUS / "ke-hoach-hai-duong.txt", pages, 2, seed=5, fmt="tif", skew=0.8)
    (mistakes / "MS-1").mkdir(parents=True)
    shutil.copy(pages / "p001.tif", mistakes / "MS-1" / "0001.tif")
    whole = (pages / "p002.tif").read_bytes()
    (mistakes / "MS-1" / "0002.tif").write_bytes(whole[:len(whole) // 3])  # cut off mid-transfer
    (mistakes / "MS-1" / "item.toml").write_text(item_toml("MS-1", "Tệp cắt cụt", "quoc-ngu-modern"),
                                                 encoding="utf-8")
    (mistakes / "MS-2").mkdir()
    shutil.copy(pages / "p001.tif", mistakes / "MS-2" / "0001.tif")
    misspelt = item_toml("MS-2", "Khóa viết sai", "quoc-ngu-modern").replace("access =", "acces =")
    (mistakes / "MS-2" / "item.toml").write_text(misspelt, encoding="utf-8")
    return batches


# --- the comparison ----------------------------------------------------------------------------

def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not any(t in k.lower() for t in TIMING_KEYS)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def fingerprints(data: Path, work: Path) -> dict[str, str]:
    """{path under the data folder: SHA-256} of the outputs and the stored objects; the JSON that holds
    timings hashed without them, the temporary paths of the run masked in it."""
    found = {}
    for folder in ("out", "store"):
        for path in sorted((data / folder).rglob("*")):
            name = path.relative_to(data).as_posix()
            if not path.is_file() or name.startswith("out/_reports/"):
                continue
            content = path.read_bytes()
            if path.suffix == ".json" and ("/pages/" in name or path.name == "item.json"):
                document = without_timings(json.loads(content))
                content = mask(json.dumps(document, sort_keys=True, ensure_ascii=False), work).encode()
                name += " (without timings)"
            found[name] = hashlib.sha256(content).hexdigest()
    return found


TIMINGS = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|ms|min|h|seconds?|pages/min|pages/s)\b")


def mask(text: str, work: Path) -> str:
    return text.replace(str(work), "<WORK>")


CLOCK = re.compile(r"\b\d+:\d\d:\d\d\b")  # the progress bar's elapsed time


def printed(result: subprocess.CompletedProcess, work: Path) -> list[str]:
    """What a run printed, timings (the progress bar's clock, the summary's "seconds" column, "time
    12.3 s") and the run's own folders masked, blank lines dropped."""
    lines, seconds = [], None
    for line in mask(result.stdout + "\n" + result.stderr, work).splitlines():
        if not line.strip():
            continue
        if "┃" in line and "seconds" in line:  # the summary table's header
            seconds = [cell.strip() for cell in line.split("┃")].index("seconds")
        elif seconds is not None and line.count("│") > seconds:
            cells = line.split("│")
            cells[seconds] = " <time> ".ljust(len(cells[seconds]))
            line = "│".join(cells)
        lines.append(CLOCK.sub("<time>", TIMINGS.sub("<time>", line)).rstrip())
    return lines


def compare(name: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    differences = [f"{name}: only before: {k}" for k in sorted(before.keys() - after.keys())]
    differences += [f"{name}: only after: {k}" for k in sorted(after.keys() - before.keys())]
    differences += [f"{name}: differs: {k}" for k in sorted(before.keys() & after.keys()) if before[k] != after[k]]
    return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision of this repository, or a folder [HEAD]")
    parser.add_argument("--after", default=str(ROOT), help="folder of the changed tree [the working tree]")
    parser.add_argument("--workers", type=int, default=2, help="pages at once in each run [2]")
    parser.add_argument("--batches", nargs="*", help="only these batches (sample_scans, stored_scans, "
                        "vietnamese, han, mistakes)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="identical-outputs-"))
    try:
        before = Path(args.before) if Path(args.before).is_dir() else export_revision(args.before, work / "tree-before")
        trees = {"before": before.resolve(), "after": Path(args.after).resolve()}
        for label, tree in trees.items():
            print(f"{label}: {tree} (entry point {':'.join(entry_point(tree))})")
        batches = make_batches(work / "batches")
        if args.batches:
            batches = {k: v for k, v in batches.items() if k in args.batches}
        differences, compared = [], 0
        for batch, folder in batches.items():
            seen = {}
            for label, tree in trees.items():
                # both trees run in the same data folder (the stored files name their store's URL),
                # each in turn; the folder is then moved aside
                data = work / "run" / batch
                began = time.monotonic()
                result = run_tree(tree, folder, data, args.workers)
                print(f"  {batch} with {label}: exit {result.returncode} in {time.monotonic() - began:.0f} s",
                      flush=True)
                seen[label] = (result.returncode, printed(result, work), fingerprints(data, work))
                (work / label).mkdir(exist_ok=True)
                data.rename(work / label / batch)
            (code_b, lines_b, files_b), (code_a, lines_a, files_a) = seen["before"], seen["after"]
            compared += len(files_b.keys() | files_a.keys())
            if code_b != code_a:
                differences.append(f"{batch}: exit code {code_b} before, {code_a} after")
            if lines_b != lines_a:
                differences.append(f"{batch}: printed differently:\n    before: " + "\n    before: ".join(lines_b)
                                   + "\n    after:  " + "\n    after:  ".join(lines_a))
            differences += compare(batch, files_b, files_a)
            if not files_b:
                differences.append(f"{batch}: the run before wrote no output")
        print(f"{compared} files compared over {len(batches)} batches; {len(differences)} differences")
        for difference in differences:
            print("  " + difference)
        return 0 if not differences else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
