"""The quota ledger: libraries, their holdings register (the denominator), the items digitized
(the numerator) with their outputs and storage, and the batch runs. SQLAlchemy 2 over SQLite
(the default, one file) or PostgreSQL; the schema is made and upgraded by Alembic migrations."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, and_, create_engine,
                        delete, insert, select, text)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from digitize.core.errors import BatchBusy, LedgerUnavailable
from digitize.core.profiles import LibraryDeclaration
from digitize.core.settings import shown_url



def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Library(Base):
    __tablename__ = "libraries"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    province: Mapped[str] = mapped_column(String(64), index=True)
    tier: Mapped[str] = mapped_column(String(32))


class Holding(Base):
    """One record of a library's holdings register; `key` is its control number, or its call
    number when it has none (re-importing updates the record with the same key)."""

    __tablename__ = "holdings"
    __table_args__ = (UniqueConstraint("library", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library: Mapped[str] = mapped_column(ForeignKey("libraries.code"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    control_number: Mapped[str] = mapped_column(String(100), default="", index=True)
    call_number: Mapped[str] = mapped_column(String(100), default="", index=True)
    title: Mapped[str] = mapped_column(String(1000), default="")
    creator: Mapped[str] = mapped_column(String(500), default="")
    date: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(32), index=True)
    imported: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BatchRun(Base):
    __tablename__ = "batch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(1000))
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    items_ok: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)


class Item(Base):
    """A digitized item (a book, a volume) and where its outputs are."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("library", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    library: Mapped[str] = mapped_column(ForeignKey("libraries.code"), index=True)
    item_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(1000), default="")
    category: Mapped[str] = mapped_column(String(32))
    access: Mapped[str] = mapped_column(String(16), default="open")
    call_number: Mapped[str] = mapped_column(String(100), default="")
    control_number: Mapped[str] = mapped_column(String(100), default="")
    holding_id: Mapped[int | None] = mapped_column(ForeignKey("holdings.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))  # ok | waiting | failed
    pages: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[str] = mapped_column(String(1000), default="")
    digitized: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("batch_runs.id"), nullable=True)
    # last change to the item's record (OAI-PMH datestamp); withdrawn items stay as deleted records
    updated: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    withdrawn: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # when the item was first public (stored and open): OAI-PMH keeps a deleted record of it if it is
    # closed later; an item never public appears nowhere
    published: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # review and acceptance (ledger/review.py): in_review | accepted | returned; quotas count accepted
    review_state: Mapped[str] = mapped_column(String(16), default="in_review", index=True)
    accepted: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_by: Mapped[str] = mapped_column(String(64), default="")
    acceptance_rule: Mapped[str] = mapped_column(String(16), default="")  # review | sample | automatic
    # what orders the review queue: not_syllables, confidence, flagged_pages, han_nom
    review_risk: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[list["Output"]] = relationship(cascade="all, delete-orphan")


class Output(Base):
    __tablename__ = "outputs"
    __table_args__ = (UniqueConstraint("item", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    extra: Mapped[dict] = mapped_column(JSON, default=dict)


class BatchLock(Base):
    """A batch being processed right now, and by which process: one run per batch."""

    __tablename__ = "batch_locks"

    batch: Mapped[str] = mapped_column(String(1000), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    run: Mapped[str] = mapped_column(String(100), default="")  # the Prefect flow run, for the operator
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def is_public():
    """The items anyone may see now (OAI-PMH, public exports): stored and open. OAI-PMH also keeps
    deleted records of items public once (``Item.published``) and withdrawn or closed since."""
    return and_(Item.status == "ok", Item.access == "open")


MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade(url: str) -> None:
    """Bring the ledger's schema to the newest migration (creates it on first use)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def newest_revision() -> str:
    """The newest migration's revision: each migration file is named after its revision (0003_...)."""
    return max(path.name.split("_")[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def current_revision(engine) -> str | None:
    """The ledger's schema revision, or None for a ledger without one (new, or not made by us)."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def database_reason(exc: Exception) -> str:
    """The database's own first line about a failure ("database is locked"), without the statement."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def open_ledger(url: str) -> Session:
    """A session on the ledger, its schema brought to the newest migration first if it is older
    (Alembic, about a third of a second, is only loaded then)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True)  # a database error never shows the row (a secret title)
    try:
        if current_revision(engine) != newest_revision():
            upgrade(url)
    except SQLAlchemyError as exc:
        raise LedgerUnavailable(f"the quota ledger cannot be opened ({database_reason(exc)})", shown_url(url),
                                "check DIGITIZE_LEDGER, that no other program holds the ledger and that the "
                                "database server runs") from None
    return Session(engine, expire_on_commit=False)


def find_holding(session: Session, library: str, call_number: str, control_number: str) -> Holding | None:
    """The holding record a digitized item belongs to: by control number, else by call number."""
    for column, value in ((Holding.control_number, control_number), (Holding.call_number, call_number)):
        if value:
            found = session.scalars(select(Holding).where(Holding.library == library, column == value)).first()
            if found is not None:
                return found
    return None


def record_run(session: Session, batch: str, started: datetime, finished: datetime, items,
               libraries: dict[str, LibraryDeclaration] | None = None) -> list[str]:
    """Record a batch run and its items. ``items``: (ItemMetadata, ItemResult, StoredManifest or
    None) for each item that got as far as its metadata. Every item is recorded (and so can be
    published); a library not in the ledger yet is added as ``libraries`` (libraries.toml) declares
    it. Returns what cannot be counted toward a quota, and why."""
    run = BatchRun(batch=batch, started=started, finished=finished,
                   items_ok=sum(r.status == "ok" for _, r, _ in items),
                   items_failed=sum(r.status != "ok" for _, r, _ in items), pages=sum(r.pages for _, r, _ in items))
    session.add(run)
    session.flush()
    notes = []
    for meta, result, manifest in items:
        if session.get(Library, meta.library) is None:
            declared = (libraries or {}).get(meta.library)
            session.add(Library(code=meta.library, name=(declared and declared.name) or meta.library,
                                province=(declared and declared.province) or "", tier=(declared and declared.tier) or ""))
            session.flush()
            if declared is None or not (declared.province and declared.tier):
                notes.append(f"{meta.id}: library {meta.library} is not declared with its province and tier in "
                             "libraries.toml: the item is recorded but counts toward no plan; declare the library")
        holding = find_holding(session, meta.library, meta.call_number, meta.control_number)
        if holding is None and result.status == "ok":
            notes.append(f"{meta.id}: no holding record with call number {meta.call_number or '-'} or control "
                         f"number {meta.control_number or '-'} in {meta.library}'s register: not counted")
        item = session.scalars(select(Item).where(Item.library == meta.library, Item.item_id == meta.id)).first()
        if item is not None and item.status == "ok" and result.status != "ok":
            notes.append(f"{meta.id}: not done in this run; the copy stored earlier stands")
            continue
        if item is None:
            item = Item(library=meta.library, item_id=meta.id, digitized=finished)
            session.add(item)
        elif item.status != "ok" and result.status == "ok":
            item.digitized = finished  # digitized when it was first done and stored
        item.title, item.category, item.access = meta.title, meta.category.value, meta.access.value
        item.call_number, item.control_number = meta.call_number, meta.control_number
        item.holding_id = holding.id if holding else None
        item.status, item.pages, item.stored, item.run_id = result.status, result.pages, result.stored or "", run.id
        if session.is_modified(item) or item.updated is None:
            item.updated = finished
        if item.published is None and item.status == "ok" and item.access == "open":
            item.published = finished
        if manifest is not None:
            known = {o.path: o for o in item.outputs}
            for path, facts in manifest.objects.items():
                output = known.get(path) or Output(path=path, size=0, sha256="")
                output.size, output.sha256 = facts.size, facts.sha256
                if path not in known:
                    item.outputs.append(output)
    session.commit()
    return notes


def set_withdrawn(session: Session, library: str, item_id: str, withdrawn: bool) -> Item | None:
    """Withdraw an item from readers (or give it back): the reading service, search and exports
    leave it out, OAI-PMH keeps a deleted record; its stored files stay. None if there is no such item."""
    with answering(session):
        item = session.scalars(select(Item).where(Item.library == library, Item.item_id == item_id)).first()
        if item is not None and (item.withdrawn is not None) != withdrawn:
            item.withdrawn = utcnow() if withdrawn else None
            item.updated = utcnow()
        session.commit()
    return item


@contextmanager
def answering(session: Session):
    """A ledger that is locked by another program, damaged or gone raises LedgerUnavailable (the
    transaction rolled back), with the database's reason but never the values of a row."""
    try:
        yield
    except SQLAlchemyError as exc:
        session.rollback()
        raise LedgerUnavailable(f"the quota ledger does not answer ({database_reason(exc)})", None,
                                "check that no other program holds it and that its disk or server is fine, "
                                "then run again") from None


def stored_from(session: Session, library: str, item_id: str) -> str | None:
    """The batch folder an item stored earlier was last run from (None if it is not stored)."""
    with answering(session):
        return session.scalar(select(BatchRun.batch).join(Item, Item.run_id == BatchRun.id).where(
        Item.library == library, Item.item_id == item_id, Item.status == "ok"))


def _running(pid: int) -> bool:
    """Whether a process of this host still runs (a killed one may linger as a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def lock_batch(session: Session, batch: str, run: str = "") -> None:
    """Take the batch for this process, or raise BatchBusy naming the run that has it. A lock left
    by a process of this host that is gone (a run killed in the middle) is taken over."""
    with answering(session):
        _lock_batch(session, batch, run)


def _lock_batch(session: Session, batch: str, run: str) -> None:
    host, pid = socket.gethostname(), os.getpid()
    for _ in range(3):
        try:  # plain SQL rows, not ORM objects: another process may change them at any moment
            session.execute(insert(BatchLock).values(batch=batch, host=host, pid=pid, run=run, since=utcnow()))
            session.commit()
            return
        except IntegrityError:
            session.rollback()
        held = session.execute(select(BatchLock.host, BatchLock.pid, BatchLock.run, BatchLock.since)
                               .where(BatchLock.batch == batch)).first()
        if held is None:
            continue
        if held.host == host and not _running(held.pid):
            session.execute(delete(BatchLock).where(BatchLock.batch == batch, BatchLock.pid == held.pid))
            session.commit()
            continue
        raise BatchBusy(f"the batch is being processed by another run (flow run {held.run or '?'}, process "
                        f"{held.pid} on {held.host}, since {held.since:%Y-%m-%d %H:%M} UTC)", batch,
                        "wait for that run to finish; if it is gone and was on another machine, remove the "
                        "lock with `digitize unlock`")
    raise BatchBusy("the batch lock could not be taken", batch, "try again")


def unlock_batch(session: Session, batch: str, pid: int | None = None) -> bool:
    """Release the batch (only this process's lock, unless ``pid`` is None: the operator's unlock)."""
    query = delete(BatchLock).where(BatchLock.batch == batch)
    if pid is not None:
        query = query.where(BatchLock.pid == pid, BatchLock.host == socket.gethostname())
    with answering(session):
        removed = session.execute(query).rowcount
        session.commit()
    return removed > 0


def clear_batch_locks(url: str) -> None:
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.begin() as connection:
            connection.execute(delete(BatchLock))
    finally:
        engine.dispose()
