"""What a nightly run did with each batch of the inbox, in people's words (Vietnamese and English,
from the gettext catalogues): one line per batch for the run's log, and the markdown the flow
publishes. The entries name batches by their folder and items as logs do (a secret one unnamed)."""

from __future__ import annotations

from datetime import datetime, timezone

from digitize.access.pages import translations
from digitize.core.models import InboxEntry, InboxOutcome

LANGUAGES = ("vi", "en")
ATTENTION = {InboxOutcome.failed, InboxOutcome.changed, InboxOutcome.stopped, InboxOutcome.skipped}


def needs_attention(entry: InboxEntry) -> bool:
    """Whether an operator has something to look at (the line is a warning, not news)."""
    return entry.outcome in ATTENTION


def duration(seconds: float, lang: str) -> str:
    _ = translations(lang).gettext
    seconds = max(0, round(seconds))
    if seconds < 120:
        return _("%(n)d s") % {"n": seconds}
    minutes = round(seconds / 60)
    if minutes < 120:
        return _("%(n)d min") % {"n": minutes}
    return _("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def line(entry: InboxEntry, lang: str, now: datetime | None = None, code: bool = False) -> str:
    """The batch and what was done with it, and why, in ``lang``; ``code``: the batch's name as markdown code."""
    _ = translations(lang).gettext
    now = now or datetime.now(timezone.utc)
    secret = [translations(lang).ngettext("%(num)d secret item", "%(num)d secret items", entry.secret_not_stored)
              % {"num": entry.secret_not_stored}] if entry.secret_not_stored else []
    values = {"batch": f"`{entry.batch}`" if code else entry.batch, "stored": entry.stored, "items": entry.items,
              "names": ", ".join(entry.not_stored + secret), "why": entry.why,
              "done": _local(entry.done_before) if entry.done_before else ""}
    outcome = entry.outcome
    if outcome == InboxOutcome.done_earlier:
        return (_("%(batch)s: done earlier (%(done)s), unchanged since.") if entry.done_before
                else _("%(batch)s: done earlier, unchanged since.")) % values
    if outcome == InboxOutcome.arriving and not entry.files:
        text = _("%(batch)s: still arriving: the folder is empty.") % values
    elif outcome == InboxOutcome.arriving:
        values |= {"time": _local(entry.last_change), "ago": duration((now - entry.last_change).total_seconds(), lang),
                   "quiet": duration(entry.quiet_needed, lang)}
        text = _("%(batch)s: still arriving: last change %(time)s (%(ago)s ago);") % values + " " + {
            "fresh": _("READY is there: taken after %(quiet)s without a change."),
            "absent": _("no READY file: taken after %(quiet)s without a change."),
            "stale": _("READY is older than a file of the batch (it was written before the copy ended): taken "
                       "after %(quiet)s without a change, or sooner once READY is written again."),
        }[entry.ready] % values
    elif outcome == InboxOutcome.done:
        text = _("%(batch)s: taken; every item stored (%(stored)d of %(items)d).") % values
    elif outcome == InboxOutcome.failed and entry.why:
        text = _("%(batch)s: taken, but the run failed: %(why)s. It is looked at again the next night.") % values
    elif outcome == InboxOutcome.failed and values["names"]:
        text = _("%(batch)s: taken; %(stored)d of %(items)d items stored, not stored: %(names)s. Their reasons "
                 "are in the run's report (_reports/); the batch is looked at again the next night.") % values
    elif outcome == InboxOutcome.failed:
        text = _("%(batch)s: taken; %(stored)d of %(items)d items stored, but the batch itself has problems, "
                 "named in the run's report (_reports/); it is looked at again the next night.") % values
    elif outcome == InboxOutcome.changed:
        text = _("%(batch)s: taken (%(stored)d of %(items)d items stored), but its files changed during the "
                 "run: not marked done; it is looked at again the next night.") % values
    elif outcome == InboxOutcome.stopped:
        text = _("%(batch)s: taken; the run stopped before its end (%(stored)d of %(items)d items stored): "
                 "what is finished is kept, the rest is done the next night; the reason is in the run's "
                 "report (_reports/).") % values
    elif outcome == InboxOutcome.busy:
        text = _("%(batch)s: locked: another run is working on it (%(why)s); left to that run.") % values
    else:
        text = _("%(batch)s: skipped: %(why)s") % values
    if entry.done_before:
        text += " " + _("It had changed since it was done on %(done)s.") % values
    return text


def log_line(entry: InboxEntry, now: datetime | None = None) -> str:
    """The line in Vietnamese, then in English."""
    return " | ".join(line(entry, lang, now) for lang in LANGUAGES)


def markdown(entries: list[InboxEntry], inbox: str, now: datetime | None = None) -> str:
    """The run's report: a section per language, a line per batch."""
    now = now or datetime.now(timezone.utc)
    parts = []
    for lang in LANGUAGES:
        _ = translations(lang).gettext
        title = _("Inbox %(inbox)s, %(time)s") % {"inbox": inbox, "time": _local(now)}
        parts += [f"## {title}", ""]
        parts += [f"- {line(entry, lang, now, code=True)}" for entry in entries] or [_("No batch in the inbox.")]
        parts.append("")
    return "\n".join(parts)
