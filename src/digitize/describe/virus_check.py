"""The PREMIS `virus check` events of an item's masters, from the malware scan at intake
(digitize.capture.malware), as Archivematica records them: the event detail names the program,
its version and the signature database (``program="ClamAV"; version="1.4.6";
virusDefinitions="27001/2026-11-07T20:35:23+00:00"``); the outcome is `pass`, or `not scanned`
with the reason (an infected file never reaches a package)."""

from __future__ import annotations

from pathlib import Path

from digitize.core.models import Agent, Event, FileEntry, PageSource, VirusCheck

AGENT = "clamav"
PASS, NOT_SCANNED = "pass", "not scanned"


def _checks(pages: list[PageSource]) -> dict[Path, VirusCheck]:
    return {page.path: page.virus_check for page in pages if page.virus_check is not None}


def agents(pages: list[PageSource]) -> list[Agent]:
    """ClamAV as a PREMIS agent, with its engine version, when it scanned any of the masters."""
    versions = [check.engine for check in _checks(pages).values() if check.engine]
    return [Agent(id=AGENT, name="ClamAV", kind="software", version=versions[0])] if versions else []


def events(pages: list[PageSource], masters: dict[Path, FileEntry]) -> list[Event]:
    """One `virus check` event per master file whose original was scanned (or not) at intake."""
    found = []
    for path, check in _checks(pages).items():
        master = masters[path].id
        detail = f'program="{check.program}"'
        if check.engine:  # the daemon answered (not when it was not reached)
            definitions = f"{check.signatures or 'unknown'}/{check.signature_date or 'undated'}"
            detail += f'; version="{check.engine}"; virusDefinitions="{definitions}"'
        if check.outcome == "clean":
            outcome = PASS
            said = (f"no malware found by {check.program} {check.engine}, signature database "
                    f"{check.signatures or 'unknown'} of {check.signature_date[:10] or 'unknown date'}")
        else:
            outcome, said = NOT_SCANNED, f"not scanned: {check.reason}"
        found.append(Event(id=f"virus-check-{master}", type="virus check", date=check.date, detail=detail,
                           outcome=outcome, outcome_detail=said, objects=[master],
                           agents=[AGENT, "digitize"] if check.engine else ["digitize"]))
    return found
