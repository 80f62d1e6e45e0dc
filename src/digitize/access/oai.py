"""OAI-PMH 2.0 data provider: the public items of the ledger (stored, open access) for national
aggregators to harvest, as simple Dublin Core (oai_dc) and as METS, straight from the stored
dc.xml and mets.xml of each item.

An item that was ever public (the ledger's ``published``) stays as a deleted record (deletedRecord
"persistent") once it is withdrawn or no longer open (made restricted or secret), so harvesters
drop it; the deleted record of an item no longer open is in its library's set only (the library is
in its identifier anyway), not in its category's. An item never public (secret or restricted from
the start, or not stored yet) appears in no response, count, set or error message. Identifiers
are ``oai:<repository_id>:<library>/<item_id>``; datestamps are the ledger's ``updated`` (else
``digitized``), UTC, to the second: for a deleted record, the time of the change.

Lists are paged with resumption tokens that carry the query, the position (the datestamp and row
id of the last record sent, so changes between pages skip nothing) and an expiration date, signed
with HMAC so a changed token is refused. The web app signs them with the settings' secret key
(``Settings.token_key``), shared by its workers and kept across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from lxml import etree
from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from digitize.describe import publish, schemas
from digitize.core.errors import OutputInvalid
from digitize.core.labels import CATEGORY_LABELS
from digitize.ledger.database import Item, Library, is_public
from digitize.core.links import PublicLinks

log = logging.getLogger(__name__)

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
ADMIN_EMAIL = "digitize@localhost.localdomain"  # the schema wants a dot in the domain
TOKEN_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=1)  # between the server workers that give out and read a token
MAX_ARGUMENT = 2048  # characters of one argument
# without a key given, tokens hold for this process only
PROCESS_KEY = secrets.token_bytes(32)
# prefix: (schema, namespace, file of the stored item)
FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/",
               "dc.xml"),
    "mets": ("http://www.loc.gov/standards/mets/mets.xsd", "http://www.loc.gov/METS/", "mets.xml"),
}
VERBS = {  # verb: (required, optional, exclusive)
    "Identify": (set(), set(), None),
    "ListMetadataFormats": (set(), {"identifier"}, None),
    "ListSets": (set(), set(), "resumptionToken"),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), None),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
}
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
PREFIX = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
DATESTAMP = func.coalesce(Item.updated, Item.digitized)
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class OAIError(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


def _q(tag: str) -> str:
    return f"{{{OAI}}}{tag}"


def xml_text(text: str) -> str:
    """``text`` with the characters XML cannot hold (control characters) replaced."""
    return NOT_XML.sub("\ufffd", text)


def _sub(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, _q(tag), {k: xml_text(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = xml_text(text)
    return element


def utc(moment: datetime) -> datetime:
    """A ledger time in UTC (SQLite gives them back without a time zone: they are UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def stamp(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def identifier(item: Item, repository_id: str) -> str:
    return f"oai:{repository_id}:{item.library}/{item.item_id}"


def shown():
    """The items OAI-PMH shows: public now, or once (then as deleted records)."""
    return or_(is_public(), Item.published.is_not(None))


def is_deleted(item: Item) -> bool:
    return item.withdrawn is not None or item.access != "open"


def set_specs(item: Item) -> list[str]:
    """An item no longer open is in its library's set only: its category may say more than was public."""
    specs = [f"library:{item.library}"] + ([f"category:{item.category}"] if item.access == "open" else [])
    return [s for s in specs if SET_SPEC.fullmatch(s)]


# ---- resumption tokens ------------------------------------------------------------------------

def make_token(state: dict, key: bytes) -> str:
    body = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]}"


def read_token(token: str, key: bytes, now: datetime) -> dict:
    body, _, signature = token.partition(".")
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise OAIError("badResumptionToken", "the resumption token is not one this repository issued")
    try:
        state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        expires = float(state["e"])
    except (ValueError, KeyError, TypeError):
        raise OAIError("badResumptionToken", "the resumption token cannot be read") from None
    if now.timestamp() > expires:
        raise OAIError("badResumptionToken", "the resumption token has expired; start the list again")
    if expires > (now + TOKEN_LIFETIME + CLOCK_SKEW).timestamp():
        raise OAIError("badResumptionToken", "the resumption token is not one this repository issued")
    return state


# ---- arguments --------------------------------------------------------------------------------

def _parse_time(value: str, name: str, upper: bool) -> tuple[datetime, str]:
    """(the bound, its granularity). ``upper``: the first moment after the range."""
    try:
        if DAY.fullmatch(value):
            moment = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return (_after(moment, timedelta(days=1)) if upper else moment), "day"
        if SECOND.fullmatch(value):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            return (_after(moment, timedelta(seconds=1)) if upper else moment), "second"
    except ValueError:
        pass
    raise OAIError("badArgument", f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, not {value!r}")


def _after(moment: datetime, step: timedelta) -> datetime:
    """``moment + step``, or the last moment there is (an ``until`` of 9999-12-31)."""
    try:
        return moment + step
    except OverflowError:
        return datetime.max.replace(tzinfo=timezone.utc)


def _check_args(args: dict[str, str]) -> None:
    """Syntax of the list arguments (from a request or from a token)."""
    prefix = args.get("metadataPrefix")
    if prefix is not None and not PREFIX.fullmatch(prefix):
        raise OAIError("badArgument", f"illegal metadataPrefix {prefix!r}")
    if "set" in args and not SET_SPEC.fullmatch(args["set"]):
        raise OAIError("badArgument", f"illegal set {args['set']!r}")
    bounds = {}
    for name in ("from", "until"):
        if name in args:
            bounds[name] = _parse_time(args[name], name, upper=name == "until")
    if len(bounds) == 2:
        (start, g1), (end, g2) = bounds["from"], bounds["until"]
        if g1 != g2:
            raise OAIError("badArgument", "from and until must have the same granularity")
        if start >= end:
            raise OAIError("badArgument", "from is later than until")


def _normalize(params) -> dict[str, list[str]]:
    items = params.items() if hasattr(params, "items") else params
    found: dict[str, list[str]] = {}
    for name, value in items:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        found.setdefault(name, []).extend(str(v) for v in values)
    return found


# ---- the queries ------------------------------------------------------------------------------

def _filters(args: dict[str, str]) -> list:
    conditions = [shown()]
    if "from" in args:
        conditions.append(DATESTAMP >= _parse_time(args["from"], "from", False)[0])
    if "until" in args:
        conditions.append(DATESTAMP < _parse_time(args["until"], "until", True)[0])
    if "set" in args:
        kind, _, value = args["set"].partition(":")
        if kind == "library":
            conditions.append(Item.library == value if value else true())
        elif kind == "category":
            conditions.append(and_(Item.access == "open", Item.category == value if value else true()))
        else:
            conditions.append(false())
    return conditions


def find_item(session: Session, ident: str, repository_id: str) -> Item | None:
    prefix = f"oai:{repository_id}:"
    if not ident.startswith(prefix):
        return None
    library, _, item_id = ident[len(prefix):].partition("/")
    if not library or not item_id:
        return None
    return session.scalars(select(Item).where(shown(), Item.library == library, Item.item_id == item_id)).first()


def earliest(session: Session) -> datetime | None:
    found = session.scalar(select(func.min(DATESTAMP)).where(shown()))
    return utc(found) if found else None


def load_metadata(store, item: Item, prefix: str, links: PublicLinks) -> etree._Element:
    """The item's stored record in ``prefix``, as published: its links are the public ones."""
    data = store.read_bytes(f"{item.library}/{item.item_id}/{FORMATS[prefix][2]}")
    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=True)
    public = publish.public_dc if prefix == "oai_dc" else publish.public_mets
    return public(etree.fromstring(data, parser), links, item.library, item.item_id)


def _header(parent, item: Item, repository_id: str) -> None:
    header = _sub(parent, "header", status="deleted" if is_deleted(item) else None)
    _sub(header, "identifier", identifier(item, repository_id))
    _sub(header, "datestamp", stamp(item.updated or item.digitized))
    for spec in set_specs(item):
        _sub(header, "setSpec", spec)


def _record(parent, item: Item, metadata: etree._Element | None, repository_id: str) -> None:
    record = _sub(parent, "record")
    _header(record, item, repository_id)
    if metadata is not None:
        _sub(record, "metadata").append(metadata)


# ---- the verbs --------------------------------------------------------------------------------

def _identify(body, session: Session, base_url: str, repository_id: str) -> None:
    element = _sub(body, "Identify")
    _sub(element, "repositoryName", f"Digitized library collections ({repository_id})")
    _sub(element, "baseURL", base_url)
    _sub(element, "protocolVersion", "2.0")
    _sub(element, "adminEmail", ADMIN_EMAIL)
    first = earliest(session)
    _sub(element, "earliestDatestamp", stamp(first) if first else "1970-01-01T00:00:00Z")
    _sub(element, "deletedRecord", "persistent")
    _sub(element, "granularity", "YYYY-MM-DDThh:mm:ssZ")


def _list_formats(body, session: Session, store, args: dict, repository_id: str) -> None:
    prefixes = list(FORMATS)
    if "identifier" in args:
        item = find_item(session, args["identifier"], repository_id)
        if item is None:
            raise OAIError("idDoesNotExist", f"no public item {args['identifier']}")
        if is_deleted(item):
            raise OAIError("noMetadataFormats", "the item has been deleted: only its deleted record remains")
        prefixes = [p for p in FORMATS if store.head(f"{item.library}/{item.item_id}/{FORMATS[p][2]}")]
        if not prefixes:
            raise OAIError("noMetadataFormats", "no metadata is stored for the item")
    element = _sub(body, "ListMetadataFormats")
    for prefix in prefixes:
        schema, namespace, _ = FORMATS[prefix]
        entry = _sub(element, "metadataFormat")
        _sub(entry, "metadataPrefix", prefix)
        _sub(entry, "schema", schema)
        _sub(entry, "metadataNamespace", namespace)


def _all_sets(session: Session) -> list[tuple[str, str]]:
    names = dict(session.execute(select(Library.code, Library.name)).all())
    rows = session.execute(select(Item.library, Item.category, Item.access).where(shown()).distinct()).all()
    libraries = sorted({library for library, _, _ in rows})
    categories = sorted({category for _, category, access in rows if access == "open"})
    sets = [("library", "Thư viện (libraries)")] if libraries else []
    sets += [(f"library:{code}", names.get(code) or code) for code in libraries]
    sets += [("category", "Loại tài liệu (categories)")] if categories else []
    sets += [(f"category:{c}", CATEGORY_LABELS["vi"].get(c, c)) for c in categories]
    return [(spec, name) for spec, name in sets if SET_SPEC.fullmatch(spec)]


def _resumption(parent, state: dict | None, key: bytes, now: datetime, total: int, cursor: int) -> None:
    if state is None:
        _sub(parent, "resumptionToken", "", completeListSize=str(total), cursor=str(cursor))
        return
    state = {**state, "e": int((now + TOKEN_LIFETIME).timestamp())}
    _sub(parent, "resumptionToken", make_token(state, key), completeListSize=str(total), cursor=str(cursor),
         expirationDate=stamp(now + TOKEN_LIFETIME))


def _list_sets(body, session: Session, args: dict, page_size: int, key: bytes, now: datetime) -> None:
    offset, resumed = 0, "resumptionToken" in args
    if resumed:
        state = read_token(args["resumptionToken"], key, now)
        if state.get("k") != "sets" or not isinstance(state.get("n"), int) or state["n"] < 0:
            raise OAIError("badResumptionToken", "the resumption token is not one of ListSets")
        offset = state["n"]
    sets = _all_sets(session)
    page = sets[offset:offset + page_size]
    if not page:
        raise OAIError("badResumptionToken" if resumed else "noSetHierarchy",
                       "the token points past the end of the list" if resumed else "there are no sets yet")
    element = _sub(body, "ListSets")
    for spec, name in page:
        entry = _sub(element, "set")
        _sub(entry, "setSpec", spec)
        _sub(entry, "setName", name)
    more = offset + len(page) < len(sets)
    if resumed or more:
        _resumption(element, {"k": "sets", "n": offset + len(page)} if more else None, key, now, len(sets), offset)


def _list(body, verb: str, session: Session, store, links: PublicLinks, args: dict, repository_id: str,
          page_size: int, key: bytes, now: datetime) -> None:
    resumed = "resumptionToken" in args
    offset, after = 0, None
    if resumed:
        state = read_token(args["resumptionToken"], key, now)
        if state.get("k") != "items":
            raise OAIError("badResumptionToken", f"the resumption token is not one of {verb}")
        try:
            args = {k: v for k, v in state["a"].items() if k in ("metadataPrefix", "from", "until", "set")}
            offset, after = int(state["n"]), state.get("after")
            _check_args(args)
            if after is not None:
                after = (datetime.fromisoformat(after[0]), int(after[1]))
        except (KeyError, TypeError, ValueError, AttributeError, OAIError):
            raise OAIError("badResumptionToken", "the resumption token cannot be read") from None
    prefix = args.get("metadataPrefix")
    if prefix not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"no metadata format {prefix!r} (use ListMetadataFormats)")
    conditions = _filters(args)
    total = session.scalar(select(func.count()).select_from(Item).where(*conditions))
    element = None
    sent, last = 0, after
    while True:  # records whose metadata cannot be read are left out; keep the page full
        window = list(conditions)
        if last is not None:
            window.append(or_(DATESTAMP > last[0], and_(DATESTAMP == last[0], Item.id > last[1])))
        rows = session.scalars(select(Item).where(*window).order_by(DATESTAMP, Item.id)
                               .limit(page_size - sent + 1)).all()
        more = len(rows) > page_size - sent
        for item in rows[:page_size - sent]:
            last = (item.updated or item.digitized, item.id)
            metadata = None
            if verb == "ListRecords" and not is_deleted(item):
                try:
                    metadata = load_metadata(store, item, prefix, links)
                except Exception as exc:  # a missing or broken stored file: the item is not harvestable
                    log.warning("OAI-PMH: %s of %s/%s cannot be read: %s", FORMATS[prefix][2], item.library,
                                item.item_id, exc)
                    continue
            if element is None:
                element = _sub(body, verb)
            if verb == "ListRecords":
                _record(element, item, metadata, repository_id)
            else:
                _header(element, item, repository_id)
            sent += 1
        if sent >= page_size or not more:
            break
    if element is None:
        if resumed:
            raise OAIError("badResumptionToken", "no records are left at the token's position; start again")
        raise OAIError("noRecordsMatch", "no public records match the request")
    if resumed or more:
        state = None
        if more:
            state = {"k": "items", "a": args, "n": offset + sent, "after": [utc(last[0]).isoformat(), last[1]]}
        _resumption(element, state, key, now, total, offset)


def _get_record(body, session: Session, store, links: PublicLinks, args: dict, repository_id: str) -> None:
    _check_args({"metadataPrefix": args["metadataPrefix"]})
    item = find_item(session, args["identifier"], repository_id)
    if item is None:
        raise OAIError("idDoesNotExist", f"no public item {args['identifier']}")
    prefix = args["metadataPrefix"]
    if prefix not in FORMATS:
        raise OAIError("cannotDisseminateFormat", f"no metadata format {prefix!r} (use ListMetadataFormats)")
    metadata = None
    if not is_deleted(item):
        try:
            metadata = load_metadata(store, item, prefix, links)
        except Exception as exc:
            log.warning("OAI-PMH: %s of %s/%s cannot be read: %s", FORMATS[prefix][2], item.library,
                        item.item_id, exc)
            raise OAIError("cannotDisseminateFormat", f"no {prefix} record is stored for the item") from None
    _record(_sub(body, "GetRecord"), item, metadata, repository_id)


def respond(session: Session, store, params, links: PublicLinks, repository_id: str = "digitize",
            page_size: int = 100, now: datetime | None = None, secret: bytes | None = None) -> bytes:
    """The OAI-PMH response (UTF-8 XML) to a request. ``params``: the request's arguments, a
    mapping of name to a value or a list of values (a repeated argument), or (name, value) pairs.
    ``links``: the public addresses (the base URL is theirs, and the records link to them).
    ``secret``: the key that signs resumption tokens (without one, a key of this process only)."""
    base_url = links.oai()
    now = utc(now or datetime.now(timezone.utc)).replace(microsecond=0)
    root = etree.Element(_q("OAI-PMH"), nsmap={None: OAI, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} {OAI_SCHEMA}")
    _sub(root, "responseDate", stamp(now))
    request = _sub(root, "request", base_url)
    found = _normalize(params)
    verbs = found.pop("verb", [])
    try:
        if len(verbs) != 1 or verbs[0] not in VERBS:
            raise OAIError("badVerb", "the verb is missing, repeated or not an OAI-PMH verb" if len(verbs) != 1
                           else f"{verbs[0]!r} is not an OAI-PMH verb")
        verb = verbs[0]
        required, optional, exclusive = VERBS[verb]
        repeated = [name for name, values in found.items() if len(values) > 1]
        if repeated:
            raise OAIError("badArgument", f"repeated argument {', '.join(repeated)}")
        args = {name: values[0] for name, values in found.items()}
        if any(len(value) > MAX_ARGUMENT or NOT_XML.search(name + value) for name, value in args.items()):
            raise OAIError("badArgument", f"an argument is longer than {MAX_ARGUMENT} characters or holds "
                                          "control characters")
        illegal = set(args) - required - optional - ({exclusive} if exclusive else set())
        if illegal:
            raise OAIError("badArgument", f"illegal argument {', '.join(sorted(illegal))} for {verb}")
        if exclusive and exclusive in args:
            if len(args) > 1:
                raise OAIError("badArgument", f"{exclusive} must be the only argument besides the verb")
        elif required - set(args):
            raise OAIError("badArgument", f"missing argument {', '.join(sorted(required - set(args)))}")
        if verb in ("ListIdentifiers", "ListRecords") and "resumptionToken" not in args:
            _check_args(args)
        if verb == "GetRecord":
            _check_args({"metadataPrefix": args["metadataPrefix"]})
        request.set("verb", verb)  # the arguments are echoed only once they are known to be legal
        for name, value in args.items():
            request.set(name, value)
        key = secret or PROCESS_KEY
        if verb == "Identify":
            _identify(root, session, base_url, repository_id)
        elif verb == "ListMetadataFormats":
            _list_formats(root, session, store, args, repository_id)
        elif verb == "ListSets":
            _list_sets(root, session, args, page_size, key, now)
        elif verb == "GetRecord":
            _get_record(root, session, store, links, args, repository_id)
        else:
            _list(root, verb, session, store, links, args, repository_id, page_size, key, now)
    except OAIError as error:
        if error.code in ("badVerb", "badArgument"):
            for name in list(request.attrib):
                del request.attrib[name]
        for child in root[2:]:
            root.remove(child)
        _sub(root, "error", error.message, code=error.code)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# ---- validation -------------------------------------------------------------------------------

@lru_cache
def oai_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(schemas._LocalCopies())
    return etree.XMLSchema(etree.parse(str(schemas.SCHEMAS / "OAI-PMH.xsd"), parser))


def validate_oai(document) -> etree._Element:
    """Check a response against OAI-PMH.xsd and each record in it against its own schema; raise
    OutputInvalid, else give back the parsed response."""
    if isinstance(document, (bytes, str)):
        document = etree.fromstring(document.encode() if isinstance(document, str) else document,
                                    etree.XMLParser(no_network=True, resolve_entities=False))
    root = document.getroot() if isinstance(document, etree._ElementTree) else document
    checker = oai_schema()
    if not checker.validate(root):
        error = checker.error_log.last_error
        raise OutputInvalid(f"not valid OAI-PMH: line {error.line}: {error.message}", "OAI-PMH response",
                            "this is a bug in digitize.access.oai")
    for metadata in root.iter(_q("metadata")):
        for record in metadata:
            where = metadata.getparent().findtext(f"{_q('header')}/{_q('identifier')}") or "OAI-PMH record"
            schemas.validate(etree.fromstring(etree.tostring(record)), where)
    return root

