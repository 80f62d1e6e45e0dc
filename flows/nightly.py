"""Prefect flows for the night: `nightly-inbox` takes every complete batch from the inbox,
`quota-report` refreshes the periodic report files, `fixity-audit` re-reads the stored objects,
`ledger-backup` puts a snapshot of the ledger and the profiles in the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger

from digitize.access import inbox_report
from digitize.core.models import BatchSummary
from digitize.engine.inbox import Inbox
from digitize.preservation import backup, fixity
from digitize.ledger import database as ledger, quota
from digitize.store import storage
from digitize.ledger.plans import load_plans
from digitize.core.settings import get_settings
from flows.batch import batch_summary, digitize_batch, publish_quota


@flow(name="nightly-inbox")
def nightly_inbox(inbox: Path, quiet_minutes: float = 30.0, workers: int = 0) -> dict:
    """Process every batch of the inbox that has fully arrived and is not done yet: one with a READY
    file written after its last page once nothing in it has changed for DIGITIZE_INBOX_QUIET_SECONDS
    (5 minutes unless set), one without once nothing has changed for quiet_minutes. A batch is done
    when all its items are stored and its files did not change during the run; failed items stay
    where they are, with their reasons in the run's report. What was done with each batch, and
    why, is logged and published as the artifact `nightly-inbox` (Vietnamese and English). workers:
    pages at once (0: the server's DIGITIZE_WORKERS)."""
    settings, logger = get_settings(), get_run_logger()

    def run(batch: Path) -> BatchSummary:
        # as a state: a run with items not stored ends Failed and batch_summary reads its summary;
        # what stopped a run before its summary (BatchBusy, a bug) is raised, and the night goes on
        return batch_summary(digitize_batch(batch=batch, return_state=True,
                                            **({"workers": workers} if workers else {})))

    entries = []
    for entry in Inbox(Path(inbox), settings.data, settings.inbox_quiet_seconds, quiet_minutes * 60).night(run):
        (logger.warning if inbox_report.needs_attention(entry) else logger.info)("%s", inbox_report.log_line(entry))
        entries.append(entry)
    try:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(key="nightly-inbox", markdown=inbox_report.markdown(entries, str(inbox)),
                                 description="What this night did with each batch of the inbox")
    except Exception as exc:  # the artifact is for watching: the night's work stands without it
        logger.warning("artifact not published: %s", exc)
    return {entry.batch: entry.outcome.value for entry in entries}


@flow(name="quota-report")
def quota_report(period: str = "", out: str = "") -> list[str]:
    """Write the periodic report (the current half-year by default) as CSV and XLSX, and publish
    the quota progress of every library and the report's files as Prefect artifacts."""
    from prefect.artifacts import create_markdown_artifact

    settings = get_settings()
    today = date.today()
    period = period or f"{today.year}-H{1 if today.month <= 6 else 2}"
    plans = load_plans(settings.profiles)
    session = ledger.open_ledger(settings.ledger_url)
    try:
        report = quota.period_report(session, plans, period)
        now = quota.progress(session, plans, today)
    finally:
        session.close()
    paths = quota.write_report(report, Path(out or settings.data / "reports"), f"bao-cao-so-hoa-all-{period}")
    publish_quota(now, f"Quota progress on {today:%Y-%m-%d}")
    create_markdown_artifact(key="quota-report", description=f"Periodic report {period}", markdown="\n".join(
        [f"# Quota report {period}", "", *(f"- `{p}`" for p in paths)]))
    return [str(p) for p in paths]


@flow(name="fixity-audit")
def fixity_audit(library: str = "") -> dict:
    """Read every object of every item the ledger records as stored against its recorded size and
    SHA-256; the run fails if any is missing or changed (`digitize repair` sends them again)."""
    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    try:
        report = fixity.audit(session, storage.open_store(settings.store_url, settings.multipart_mb << 20), library)
    finally:
        session.close()
        session.get_bind().dispose()
    # counts only: the objects' addresses name the items, secret ones too, and Prefect is seen by many
    if report.extra:
        get_run_logger().warning("%d objects in the store that the ledger does not list; `digitize audit` "
                                 "names them", len(report.extra))
    if report.damaged:
        raise RuntimeError(f"{len(report.damaged)} of {report.objects} stored objects missing or changed; "
                           "`digitize audit` names them and `digitize repair` sends them again")
    return {"items": report.items, "checked": report.objects, "extra": len(report.extra)}


@flow(name="ledger-backup")
def ledger_backup(to: str = "") -> dict:
    """Snapshot the ledger and the profiles into the store ``to`` (default: DIGITIZE_STORE), under
    _backups/ledger/<UTC time>/."""
    settings = get_settings()
    store = storage.open_store(to or settings.store_url, settings.multipart_mb << 20)
    return backup.backup(settings.ledger_url, settings.profiles, store).model_dump(mode="json")


def deployments():
    """The deployments `digitize serve` runs: flow name = deployment name."""
    from prefect.schedules import Cron

    zone = "Asia/Ho_Chi_Minh"
    return [
        digitize_batch.to_deployment(name="digitize-batch"),
        nightly_inbox.to_deployment(name="nightly-inbox", schedule=Cron("0 1 * * *", timezone=zone),
                                    parameters={"inbox": str(get_settings().data / "inbox")}),
        quota_report.to_deployment(name="quota-report", schedule=Cron("0 6 * * 1", timezone=zone)),
        fixity_audit.to_deployment(name="fixity-audit", schedule=Cron("0 3 * * 0", timezone=zone)),
        ledger_backup.to_deployment(name="ledger-backup", schedule=Cron("30 2 * * 0", timezone=zone)),
    ]
