"""A stored item's METS amended after the run: files that changed get their new size and SHA-256
(in the fileSec and in their PREMIS object), a PREMIS event says what was done and by whom, and a
staff member who did it is added as a PREMIS agent (agentType ``person``). Everything else of the
document stays as the run wrote it; the result is validated like every METS (describe/schemas.py).

Review (digitize.review) uses it for corrections, acceptance and returns, whose agent is the
reviewer."""

from __future__ import annotations

from lxml import etree

from digitize.core.models import Agent, Event, FileFacts
from digitize.describe import mets, schemas

NS = mets.NS


def person(name: str) -> Agent:
    """A staff member as a PREMIS agent (their sign-in name is unique)."""
    return Agent(id=f"staff-{name}", name=name, kind="person")


def event_ids(document: bytes) -> list[str]:
    root = _parse(document)
    return [e.text or "" for e in root.xpath("//premis:event/premis:eventIdentifier/premis:eventIdentifierValue",
                                             namespaces=NS)]


def next_event_id(document: bytes, prefix: str) -> str:
    """``prefix-N``, N one more than the events of that prefix the METS holds."""
    taken = set(event_ids(document))
    number = 1 + sum(1 for e in taken if e.startswith(prefix + "-"))
    while f"{prefix}-{number}" in taken:
        number += 1
    return f"{prefix}-{number}"


def _parse(document: bytes) -> etree._Element:
    return etree.fromstring(document, etree.XMLParser(no_network=True, resolve_entities=False,
                                                      remove_blank_text=True))


def amend(document: bytes, where: str, event: Event, agent: Agent | None = None,
          changed: dict[str, FileFacts] | None = None, modified: str = "") -> bytes:
    """The METS ``document`` with ``event`` added (and ``agent`` among its agents, if new), the
    files named by id in ``changed`` given their new size and SHA-256, and LASTMODDATE ``modified``
    (default: the event's date). Validated; ``where`` names it in an error."""
    root = _parse(document)
    for file_id, facts in (changed or {}).items():
        for node in root.xpath(f"mets:fileSec//mets:file[@ID='{file_id}']", namespaces=NS):
            node.set("SIZE", str(facts.size))
            node.set("CHECKSUM", facts.sha256)
        for characteristics in root.xpath(
                f"mets:amdSec/mets:techMD[@ID='tech-file-{file_id}']//premis:objectCharacteristics", namespaces=NS):
            for digest in characteristics.xpath("premis:fixity/premis:messageDigest", namespaces=NS):
                digest.text = facts.sha256
            for size in characteristics.xpath("premis:size", namespaces=NS):
                size.text = str(facts.size)
    header = root.xpath("mets:metsHdr", namespaces=NS)[0]
    header.set("LASTMODDATE", modified or event.date)
    amd = root.xpath("mets:amdSec", namespaces=NS)[0]
    holder = mets._wrap(amd, "digiprovMD", f"digiprov-{event.id}", "PREMIS:EVENT", [mets._premis_event(event)])
    agents = amd.xpath("mets:digiprovMD[@ID='digiprov-agents']", namespaces=NS)
    if agents:  # the events before the agents, as the run orders them
        agents[0].addprevious(holder)
        known = agents[0].xpath(".//premis:agentIdentifierValue", namespaces=NS)
        if agent is not None and agent.id not in {k.text for k in known}:
            agents[0].xpath(".//mets:xmlData", namespaces=NS)[0].append(mets._premis_agent(agent))
    elif agent is not None:
        mets._wrap(amd, "digiprovMD", "digiprov-agents", "PREMIS:AGENT", [mets._premis_agent(agent)])
    schemas.validate(root, where)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
