"""Review's page editor on a 40-page item: opening a page for review (its METS, ALTO and review
state read, the editor's HTML made) and saving a corrected line (ALTO and page text stored as new
versions, the ledger's events and outputs, the item indexed again), p50 and p95 in ms. The item
is the stored test item HD-DC-0001 (tests/data/stored) with its two pages repeated to 40.

    .venv/bin/python bench/review_save.py [--pages 40] [--saves 60]

Target (issue 26): a save under 300 ms at p95 on 2 cores."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "tests" / "data" / "stored"

from digitize.access import editor, site  # noqa: E402
from digitize.core.links import PublicLinks  # noqa: E402
from digitize.core.models import ItemMetadata  # noqa: E402
from digitize.describe import mets  # noqa: E402
from digitize.ledger import database as ledger  # noqa: E402
from digitize.ledger.database import Item, Library, Output  # noqa: E402
from digitize.review import revision  # noqa: E402
from digitize.search import indexing  # noqa: E402
from digitize.store.storage import FolderStore  # noqa: E402

LIBRARY, ITEM = "HD-TV", "HD-DC-0001"


def forty_pages(root: Path, pages: int) -> FolderStore:
    """The test item with its pages repeated to ``pages``, its METS listing them all."""
    source = STORED / "store" / LIBRARY / ITEM
    target = root / "store" / LIBRARY / ITEM
    shutil.copytree(source, target)
    package = mets.read((source / "mets.xml").read_bytes())
    files = {f.id: f for f in package.files}
    first = len(package.pages)
    for number in range(first + 1, pages + 1):
        model = package.pages[(number - 1) % first]
        page = model.model_copy(update={"number": number, "label": str(number)})
        for kind, folder, suffix in (("image", "images", "jpg"), ("alto", "alto", "xml"), ("text", "text", "txt")):
            entry = files[getattr(model, kind)]
            relative = f"{folder}/{number:04d}.{suffix}"
            shutil.copy2(target / mets.stored_path(package, entry), target / relative)
            copy = entry.model_copy(update={"id": f"{kind}-{number:04d}", "href": relative})
            package.files.append(copy)
            setattr(page, kind, copy.id)
        package.pages.append(page)
    meta = ItemMetadata(**tomllib.loads((STORED / "scans" / ITEM / "item.toml").read_text(encoding="utf-8")))
    document = mets.build(package, meta, [ITEM])
    from lxml import etree

    (target / "mets.xml").write_bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8"))
    return FolderStore(root / "store")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--saves", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as work:
        root = Path(work)
        store = forty_pages(root, args.pages)
        session = ledger.open_ledger(f"sqlite:///{root / 'ledger.sqlite'}")
        session.add(Library(code=LIBRARY, name="Thư viện", province="hai-duong", tier="provincial"))
        manifest = json.loads((root / "store" / LIBRARY / ITEM / "stored.json").read_text(encoding="utf-8"))
        item = Item(library=LIBRARY, item_id=ITEM, title=ITEM, category="dia_chi", access="open", status="ok",
                    pages=args.pages, stored=store.url(f"{LIBRARY}/{ITEM}"), digitized=datetime.now(timezone.utc),
                    outputs=[Output(path=k, size=v["size"], sha256=v["sha256"], extra={})
                             for k, v in manifest["objects"].items()])
        session.add(item)
        session.commit()
        indexing.index_stored(session, store, item)
        context = site.Context(base="http://127.0.0.1:8000", user="duyet", csrf="x")
        links = PublicLinks(context.base)
        opening, saving = [], []
        for number in range(args.saves):
            page = 1 + number % args.pages
            clock = time.perf_counter()
            opened = revision.open_page(session, store, item, page)
            service = links.image_service(LIBRARY, ITEM, page)
            lines = [editor.LineView(id=line.id, number=n, text=line.text, loaded=line.text,
                                     crop=editor.crop_url(service, line.box, opened.width, opened.height),
                                     words=[editor.WordView(w.text, w.low, None, w.alternatives) for w in line.words],
                                     readings=[]) for n, line in enumerate(opened.lines, 1)]
            editor.editor_page(context, editor.EditorView(
                library=LIBRARY, item_id=ITEM, title=ITEM, page=page, pages=opened.pages, image=service,
                action=service, item_url=service, previous=None, following=None, lines=lines, may_save=True,
                state=opened.state))
            opening.append(time.perf_counter() - clock)
            line = opened.lines[number % len(opened.lines)]
            words = line.text.split()
            words[0] = "Nguyễn" if words[0] != "Nguyễn" else "nghiệm"
            clock = time.perf_counter()
            result = revision.save_lines(session, store, item, page, [revision.Change(line.id, line.text,
                                                                                      " ".join(words))], "duyet")
            saving.append(time.perf_counter() - clock)
            assert result.saved == [line.id], result
        session.close()
    for name, values in (("open a page for review", opening), ("save a corrected line (re-index included)", saving)):
        print(f"{name}: p50 {1000 * statistics.median(values):.0f} ms, p95 {1000 * percentile(values, 0.95):.0f} ms "
              f"({len(values)} times, {args.pages}-page item)")


if __name__ == "__main__":
    sys.exit(main())
