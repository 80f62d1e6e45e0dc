"""Fixity from the ledger: every item the ledger records as stored is checked in the store, object
by object, against the size and SHA-256 it was stored with (`digitize audit`), and what the store
lost or changed is sent again from the local copies in the output folder (`digitize repair`).
The ledger, not the store, says what must be there: a store that lost everything fails the audit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from digitize.core import files
from digitize.store import storage
from digitize.core.errors import StorageError, StorageUnavailable
from digitize.ledger.database import Item
from digitize.store.storage import MANIFEST, VERSIONS, Store

READERS = 4  # objects read back at once (each waits on disk or network)
LAST = {"mets.xml": 1, MANIFEST: 2}  # sent again last, as when stored: the manifest marks an item complete


@dataclass
class Finding:
    library: str
    item_id: str
    path: str  # in the item
    url: str
    kind: str  # missing | changed | extra (in the store, not in the ledger)
    detail: str


@dataclass
class AuditReport:
    items: int = 0
    objects: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def damaged(self) -> list[Finding]:
        """Missing or changed objects: the audit fails with these. Extra objects are only warnings."""
        return [f for f in self.findings if f.kind != "extra"]

    @property
    def extra(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "extra"]


@dataclass
class Unrepairable:
    library: str
    item_id: str
    folder: Path  # where the local copies should be
    reasons: list[str]  # per object: path and why

    @property
    def todo(self) -> str:
        return (f"restore {self.folder} from a backup and run digitize repair again; or, with the item's "
                "originals, move that folder aside and run its batch again with --new-version (the item is made "
                f"anew and stored, what it replaces in the store kept under {VERSIONS}/)")


@dataclass
class RepairReport:
    audit: AuditReport = field(default_factory=AuditReport)
    repaired: list[Finding] = field(default_factory=list)
    unrepairable: list[Unrepairable] = field(default_factory=list)


def stored_items(session: Session, library: str = "") -> list[Item]:
    """The items the ledger records as stored, with their outputs (what was stored)."""
    query = select(Item).where(Item.status == "ok").options(selectinload(Item.outputs))
    if library:
        query = query.where(Item.library == library)
    return list(session.scalars(query.order_by(Item.library, Item.item_id)))


def check_item(store: Store, item: Item, pool: ThreadPoolExecutor) -> list[Finding]:
    """Every object of the item read again against the ledger, and the store's objects under the
    item's key that the ledger does not list."""
    prefix = f"{item.library}/{item.item_id}"  # pipeline.item_key
    outputs = sorted(item.outputs, key=lambda o: o.path)
    checks = pool.map(lambda o: storage.check(store, f"{prefix}/{o.path}", o.size, o.sha256), outputs)
    findings = [Finding(item.library, item.item_id, output.path, store.url(f"{prefix}/{output.path}"), *problem)
                for output, problem in zip(outputs, checks) if problem is not None]
    listed = {f"{prefix}/{o.path}" for o in outputs}
    findings += [Finding(item.library, item.item_id, key[len(prefix) + 1:], store.url(key), "extra",
                         "not listed in the ledger")
                 for key in store.keys(f"{prefix}/") if key not in listed and not key.startswith(f"{VERSIONS}/")]
    return findings


def audit(session: Session, store: Store, library: str = "") -> AuditReport:
    report = AuditReport()
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for item in stored_items(session, library):
            report.items += 1
            report.objects += len(item.outputs)
            report.findings += check_item(store, item, pool)
    return report


def local_problem(path: Path, size: int, sha256: str) -> str | None:
    if not path.is_file():
        return "the local copy is gone"
    if path.stat().st_size != size or files.sha256_file(path) != sha256:
        return "the local copy differs from what was stored (size or SHA-256)"
    return None


def repair(session: Session, store: Store, out: Path, library: str = "") -> RepairReport:
    """Audit, and send every missing or changed object again from its local copy in ``out``, which
    must still have the SHA-256 the ledger records (the store checks it again as it arrives); a
    changed object is kept as a previous version before the good copy takes its place. The ledger
    is not changed: the store is brought back to what it records."""
    report = RepairReport()
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        for item in stored_items(session, library):
            findings = check_item(store, item, pool)
            report.audit.items += 1
            report.audit.objects += len(item.outputs)
            report.audit.findings += findings
            outputs = {o.path: o for o in item.outputs}
            folder = out / item.library / item.item_id
            reasons = []
            for finding in sorted((f for f in findings if f.kind != "extra"), key=lambda f: LAST.get(f.path, 0)):
                output = outputs[finding.path]
                why = local_problem(folder / finding.path, output.size, output.sha256)
                if why is None:
                    try:
                        store.replace(folder / finding.path, f"{item.library}/{item.item_id}/{finding.path}",
                                      output.sha256)
                    except StorageUnavailable:
                        raise
                    except StorageError as exc:
                        why = exc.what
                if why is None:
                    report.repaired.append(finding)
                else:
                    reasons.append(f"{finding.path}: {why}")
            if reasons:
                report.unrepairable.append(Unrepairable(item.library, item.item_id, folder, reasons))
    return report
