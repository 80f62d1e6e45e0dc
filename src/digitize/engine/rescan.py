"""A rescan: new scans of some pages of a stored item (a batch folder whose item.toml says
``[rescan] replaces = [2, 5]``). Only those pages go through the pipeline; every other page's
master, page image, ALTO and text are taken from the stored version as they are (not read again);
the item's PDF/A, text, Dublin Core and METS are made again, with a PREMIS event naming the
replaced pages, and the item is stored as a new version (the previous one kept under _versions/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from digitize.capture import intake
from digitize.core.errors import BadInput
from digitize.core.models import (Event, FileFacts, ItemRecord, PageRecord, PageSource, Problem, Profile)
from digitize.describe import mets, package
from digitize.engine import pipeline
from digitize.ledger.database import answering
from digitize.review import rescan as review_rescan
from digitize.store.storage import VERSIONS, Store


@dataclass
class Rescan:
    """What a rescan keeps of the stored item: its other pages' sources (their masters in the item
    folder) and records, and the pages the new scans replace."""

    replaces: list[int]
    kept_sources: list[PageSource]
    kept_records: list[PageRecord]


def prepare(session, store: Store, plan: intake.ItemPlan, folder: Path) -> Rescan:
    """Check a rescan against the stored item and the ledger, and say what it keeps. Raises BadInput
    (what is wrong and what to do) when the item is not stored, a page it names is not one of the
    item's, or the item's review does not allow it (review.rescan.rescan_refusal)."""
    meta, replaces = plan.meta, plan.replaces
    earlier = pipeline.read_record(folder)
    stored = pipeline.stored_pages(store, pipeline.item_key(meta))
    if earlier is None or earlier.stored is None or not stored:
        raise BadInput(f"[rescan] names pages of {meta.id}, but no item {meta.id} of library {meta.library} is "
                       f"stored from this output folder ({folder})", intake.ITEM_FILE,
                       "a rescan replaces pages of a stored item: check the id and library (and --out), or "
                       "remove the [rescan] table to run the folder as a whole item")
    numbers = [record.number for record in earlier.pages]
    outside = [n for n in replaces if n not in numbers]
    if outside:
        raise BadInput(f"[rescan] replaces page {', '.join(map(str, outside))}, but {meta.id} has "
                       f"{len(numbers)} pages (1 to {len(numbers)})", intake.ITEM_FILE,
                       "list only pages of the stored item, in the order of the new scans")
    with answering(session):
        refusal = review_rescan.rescan_refusal(session, meta.library, meta.id, replaces)
    if refusal:
        raise BadInput(refusal, intake.ITEM_FILE, "ask a reviewer to return the item for these pages "
                       "(digitize review return), then run the rescan again")
    sources = kept_sources(earlier, folder, replaces)
    moved = [source.number for source in sources if source.number not in stored
             or stored[source.number].master_sha256 != source.sha256 or stored[source.number].frame != source.frame]
    if moved:
        raise BadInput(f"the stored {meta.id} is not the version this output folder made (page "
                       f"{', '.join(map(str, moved))} differs): its other pages cannot be kept from here",
                       str(folder), "run the rescan with the output folder of the item's last run (--out)")
    return Rescan(replaces=list(replaces), kept_sources=sources,
                  kept_records=[record for record in earlier.pages if record.number not in replaces])


def already_done(folder: Path, plan: intake.ItemPlan) -> ItemRecord | None:
    """The stored record of the item when an earlier run already stored this very rescan."""
    record = pipeline.read_record(folder)
    if record is None or record.stored is None:
        return None
    pages = {r.number: (r.source_sha256, r.frame) for r in record.pages}
    done = all(pages.get(number) == (page.sha256, page.frame) for page, number in zip(plan.pages, plan.replaces))
    return record if done else None


def kept_sources(earlier: ItemRecord, folder: Path, replaces: list[int]) -> list[PageSource]:
    """The pages a rescan keeps, as page sources whose files are their masters in the item folder."""
    entries = {entry.id: entry for entry in earlier.package.files}
    images = {page.number: page for page in earlier.package.pages}
    sources = []
    for record in earlier.pages:
        if record.number in replaces:
            continue
        image = images[record.number]
        master = entries[image.master]
        sources.append(PageSource(
            number=record.number, path=folder / mets.stored_path(earlier.package, master), frame=record.frame,
            name=record.source, sha256=master.sha256, size=master.size, dpi=image.dpi, dpi_tag=image.dpi_tag,
            dpi_method=image.dpi_method, dpi_estimate=record.dpi_estimate, width=image.width, height=image.height,
            mode=image.mode, format=image.format, text_source=record.text_source, identified=master.format))
    return sources


def numbered(plan: intake.ItemPlan) -> list[PageSource]:
    """The rescan's page files, numbered as the pages they replace."""
    return [page.model_copy(update={"number": number}) for page, number in zip(plan.pages, plan.replaces)]


def assemble(rescan: Rescan, plan: intake.ItemPlan, catalogue: list, profile: Profile, records: list[PageRecord],
             folder: Path, problems: list[Problem], seconds: float, ingested: str, base: str,
             store: Store) -> ItemRecord:
    """The item again from its kept pages (their files made the stored ones first) and the new
    pages' records, with a PREMIS event naming the replaced pages; to be stored as a new version."""
    key = pipeline.item_key(plan.meta)
    stored = pipeline.stored_pages(store, key)
    kept, _ = pipeline.take_stored_pages(rescan.kept_records, folder, store, key, stored,
                                         {record.number for record in rescan.kept_records})
    for source in rescan.kept_sources:
        page = stored[source.number]
        facts = FileFacts(size=source.size, sha256=page.master_sha256)
        pipeline.fetch_stored(store, key, folder, page.master, facts, _local(folder, page.master, source))
    sources = sorted([*rescan.kept_sources, *numbered(plan)], key=lambda page: page.number)
    pages = sorted([*kept, *records], key=lambda record: record.number)
    record = pipeline.assemble_item(plan.meta, pipeline.describe(plan.meta, catalogue), profile, sources, pages,
                                    folder, problems, seconds, ingested, base)
    return replaced(record, rescan, plan, folder)


def _local(folder: Path, relative: str, source: PageSource) -> FileFacts | None:
    """The folder's own copy of a kept master, taken for the stored one when its size is (a master
    is written once, hashed as it was copied)."""
    path = folder / relative
    return FileFacts(size=source.size, sha256=source.sha256) if path.is_file() else None


def replaced(record: ItemRecord, rescan: Rescan, plan: intake.ItemPlan, folder: Path) -> ItemRecord:
    """The PREMIS event of the rescan; the record marked to be stored as a new version."""
    pages = ", ".join(map(str, rescan.replaces))
    files = ", ".join(page.name for page in plan.pages)
    kept = ", ".join(str(r.number) for r in rescan.kept_records) or "none"
    item_package = record.package.model_copy(deep=True)
    masters = {image.number: image.master for image in item_package.pages}
    item_package.events.append(Event(
        id="rescan", type="modification", date=package.now(), agents=["digitize", "library"], outcome="success",
        objects=[masters[n] for n in rescan.replaces] + [f"{kind}-{n:04d}" for n in rescan.replaces
                                                           for kind in ("image", "alto", "text")],
        detail=f"rescan: page{'s' * (len(rescan.replaces) > 1)} {pages} replaced by new scans ({files}) and read "
               f"by OCR; pages kept from the stored version as they were, not read again: {kept}; the PDF/A, "
               f"the text and this METS made again; the previous version is kept in the store under {VERSIONS}/"))
    updated = record.model_copy(update={
        "package": item_package, "new_version": True,
        "result": record.result.model_copy(update={"replaced_pages": list(rescan.replaces)})})
    pipeline.write_atomic(folder / pipeline.ITEM_RECORD, updated.model_dump_json(indent=1))
    return updated
