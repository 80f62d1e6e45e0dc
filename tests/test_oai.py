"""The OAI-PMH data provider over a small repository made from real stored items (the fixture
tests/data/stored/, from a real run of the pipeline): every verb and error, every response valid (records included), only public items, deleted records, selective
harvesting, resumption tokens, items closed after they were public (deleted records; never-public
items nowhere), and a real harvest with Sickle over HTTP."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from conftest import copy_stored_items, ledger_session, sqlite_url, uvicorn_server
from digitize.ledger import database as ledger
from digitize.access import oai
from digitize.ledger.database import Item, Library
from digitize.core.links import PublicLinks
from digitize.core.models import Access, Category, ItemMetadata, ItemResult
from digitize.store.storage import FolderStore

NS = {"o": oai.OAI, "dc": "http://purl.org/dc/elements/1.1/", "oai_dc": "http://www.openarchives.org/OAI/2.0/oai_dc/",
      "mets": "http://www.loc.gov/METS/"}
LINKS = PublicLinks("http://example.org")
BASE = LINKS.oai()
RESTRICTED_TITLE = "Hồ sơ hạn chế RESTRICTED-TITLE-4411"
SECRET_TITLE = "Hồ sơ mật SECRET-TITLE-9937"
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
HIDDEN = ["HD-RESTRICTED-0004", "HD-SECRET-0005", "HD-SECRET-GONE-0008", "HD-WAITING-0007", "RESTRICTED-TITLE-4411",
          "SECRET-TITLE-9937", "endogenous"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# (library, item_id, category, access, status, updated, withdrawn, title, files copied from)
ITEMS = [
    ("HD-TV", "HD-DC-0001", "dia_chi", "open", "ok", "2026-01-15T10:00:00", None, None, "HD-DC-0001"),
    ("HD-TV", "HN-TK-0002", "rare", "open", "ok", "2026-03-10T08:30:00.250000", None, None, "HN-TK-0002"),
    ("VP-LT", "VP-CLONE-0003", "rare", "open", "ok", "2026-03-10T08:30:00", None, "Bản sao", "HD-DC-0001"),
    ("HD-TV", "HD-RESTRICTED-0004", "endogenous", "restricted", "ok", "2026-02-01T00:00:00", None,
     RESTRICTED_TITLE, "HD-DC-0001"),
    ("HD-TV", "HD-SECRET-0005", "rare", "secret", "ok", "2025-12-01T00:00:00", None, SECRET_TITLE, "HN-TK-0002"),
    ("HD-TV", "HD-WITHDRAWN-0006", "other", "open", "ok", "2026-04-01T12:00:00", "2026-04-01T12:00:00",
     "Rút khỏi kho", "HD-DC-0001"),
    ("HD-TV", "HD-WAITING-0007", "endogenous", "open", "waiting", "2026-02-03T00:00:00", None, "Chờ lưu",
     "HD-DC-0001"),
    ("HD-TV", "HD-SECRET-GONE-0008", "endogenous", "secret", "ok", "2026-05-01T00:00:00", "2026-05-01T00:00:00",
     SECRET_TITLE, "HD-DC-0001"),
]
PUBLIC = ["oai:digitize:HD-TV/HD-DC-0001", "oai:digitize:VP-LT/VP-CLONE-0003", "oai:digitize:HD-TV/HN-TK-0002",
          "oai:digitize:HD-TV/HD-WITHDRAWN-0006"]  # in datestamp order (ties by row id)
DELETED = "oai:digitize:HD-TV/HD-WITHDRAWN-0006"
KEY = b"k" * 32


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    stored = copy_stored_items(tmp_path_factory.mktemp("stored"))
    assert stored.item_ids() == ["HD-DC-0001", "HN-TK-0002"]
    folder = tmp_path_factory.mktemp("oai")
    store = FolderStore(folder / "store")
    url = sqlite_url(folder / "l.sqlite")
    with ledger_session(url) as session:
        yield fill(session, store, stored.store), store, url


def fill(session, store, sample_store):
    """The ledger rows and the stored files of ITEMS, copied from the stored items (the id and title
    changed in dc.xml and mets.xml where they differ)."""
    session.add_all([
        Library(code="HD-TV", name="Thư viện tỉnh Hải Dương", province="hai-duong", tier="provincial"),
        Library(code="VP-LT", name="Thư viện huyện Lập Thạch", province="vinh-phuc", tier="district")])
    for library, item_id, category, access, status, updated, withdrawn, title, source in ITEMS:
        shutil.copytree(sample_store / "HD-TV" / source, store.root / library / item_id, dirs_exist_ok=True)
        for name in ("dc.xml", "mets.xml"):
            text = (sample_store / "HD-TV" / source / name).read_text(encoding="utf-8")
            if item_id != source:
                text = text.replace(source, item_id)
                if title:
                    original = etree.fromstring(text.encode()).findtext(".//dc:title", namespaces=NS)
                    text = text.replace(original, title)
            target = store.root / library / item_id / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        session.add(Item(library=library, item_id=item_id, title=title or item_id, category=category, access=access,
                         status=status, pages=1, stored=store.url(f"{library}/{item_id}"),
                         digitized=at(updated) - timedelta(days=1), updated=at(updated),
                         withdrawn=at(withdrawn) if withdrawn else None))
    session.commit()
    return session


@pytest.fixture
def call(repo):
    session, store, _ = repo

    def call(page_size=100, now=None, **params):
        body = oai.respond(session, store, params, LINKS, page_size=page_size, now=now)
        for hidden in HIDDEN:  # a hidden item is named only when the harvester names it
            assert hidden.encode() not in body or hidden in repr(params), hidden
        return oai.validate_oai(body)

    return call


def error(root) -> str | None:
    found = root.find("o:error", NS)
    return None if found is None else found.get("code")


def identifiers(root) -> list[str]:
    return root.xpath("//o:header/o:identifier/text()", namespaces=NS)


def harvest(call, verb="ListIdentifiers", page_size=100, **args):
    """All the identifiers of a list, following resumption tokens, and the tokens' attributes."""
    root = call(verb=verb, page_size=page_size, **args)
    assert error(root) is None, etree.tostring(root)
    found, tokens = identifiers(root), []
    while (token := root.find(f"o:{verb}/o:resumptionToken", NS)) is not None:
        tokens.append(dict(token.attrib, text=token.text or ""))
        if not token.text:
            break
        root = call(verb=verb, page_size=page_size, resumptionToken=token.text)
        found += identifiers(root)
    return found, tokens


def test_identify(call):
    root = call(verb="Identify")
    assert root.find("o:request", NS).attrib == {"verb": "Identify"}
    assert root.findtext("o:request", namespaces=NS) == BASE
    identify = root.find("o:Identify", NS)
    values = {child.tag.split("}")[1]: child.text for child in identify}
    assert values["baseURL"] == BASE and values["protocolVersion"] == "2.0"
    assert values["deletedRecord"] == "persistent" and values["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    # the secret item of 2025-12-01 does not count
    assert values["earliestDatestamp"] == "2026-01-15T10:00:00Z"
    assert "@" in values["adminEmail"]


def test_list_metadata_formats(call):
    formats = call(verb="ListMetadataFormats").xpath("//o:metadataPrefix/text()", namespaces=NS)
    assert formats == ["oai_dc", "mets"]
    one = call(verb="ListMetadataFormats", identifier=PUBLIC[0])
    assert one.xpath("//o:metadataPrefix/text()", namespaces=NS) == ["oai_dc", "mets"]
    for unknown in ("oai:digitize:HD-TV/NOPE", "oai:digitize:HD-TV/HD-SECRET-0005", "oai:other:HD-TV/HD-DC-0001",
                    "oai:digitize:HD-TV/HD-RESTRICTED-0004", "junk"):
        assert error(call(verb="ListMetadataFormats", identifier=unknown)) == "idDoesNotExist"
    assert error(call(verb="ListMetadataFormats", identifier=DELETED)) == "noMetadataFormats"


def test_list_sets_public_only_and_paged(call):
    specs = call(verb="ListSets").xpath("//o:setSpec/text()", namespaces=NS)
    assert specs == ["library", "library:HD-TV", "library:VP-LT", "category", "category:dia_chi",
                     "category:other", "category:rare"]  # no "endogenous": only restricted/secret/waiting items
    names = call(verb="ListSets").xpath("//o:set[o:setSpec='library:HD-TV']/o:setName/text()", namespaces=NS)
    assert names == ["Thư viện tỉnh Hải Dương"]
    tokens = harvest(call, "ListSets", page_size=3)[1]
    root, seen = call(verb="ListSets", page_size=3), []
    while True:
        seen += root.xpath("//o:setSpec/text()", namespaces=NS)
        token = root.find("o:ListSets/o:resumptionToken", NS)
        if token is None or not token.text:
            break
        root = call(verb="ListSets", page_size=3, resumptionToken=token.text)
    assert seen == specs and [t["cursor"] for t in tokens] == ["0", "3", "6"] and tokens[-1]["text"] == ""


def test_get_record_both_formats(call):
    for ident in PUBLIC[:3]:
        dc = call(verb="GetRecord", identifier=ident, metadataPrefix="oai_dc")
        assert identifiers(dc) == [ident]
        record = dc.find("o:GetRecord/o:record/o:metadata/oai_dc:dc", NS)
        assert record is not None
        assert record.findtext("dc:identifier", namespaces=NS) == ident.rsplit("/", 1)[1]
        mets = call(verb="GetRecord", identifier=ident, metadataPrefix="mets")
        assert mets.find("o:GetRecord/o:record/o:metadata/mets:mets", NS).get("OBJID") == ident.rsplit("/", 1)[1]
    header = call(verb="GetRecord", identifier=PUBLIC[0], metadataPrefix="oai_dc").find(".//o:header", NS)
    assert header.findtext("o:datestamp", namespaces=NS) == "2026-01-15T10:00:00Z"
    assert header.xpath("o:setSpec/text()", namespaces=NS) == ["library:HD-TV", "category:dia_chi"]
    assert header.get("status") is None
    clone = call(verb="GetRecord", identifier=PUBLIC[1], metadataPrefix="oai_dc")
    assert clone.xpath("//dc:title/text()", namespaces=NS) == ["Bản sao"]


def test_withdrawn_item_is_a_deleted_header(call):
    root = call(verb="GetRecord", identifier=DELETED, metadataPrefix="oai_dc")
    record = root.find("o:GetRecord/o:record", NS)
    assert record.find("o:header", NS).get("status") == "deleted"
    assert record.find("o:metadata", NS) is None
    listed = call(verb="ListRecords", metadataPrefix="mets", set="category:other")
    assert identifiers(listed) == [DELETED] and listed.find(".//o:metadata", NS) is None
    headers = call(verb="ListIdentifiers", metadataPrefix="oai_dc").findall(".//o:header", NS)
    assert [h.get("status") for h in headers] == [None, None, None, "deleted"]


def test_get_record_errors(call):
    assert error(call(verb="GetRecord", identifier="oai:digitize:HD-TV/HD-SECRET-0005",
                      metadataPrefix="oai_dc")) == "idDoesNotExist"
    assert error(call(verb="GetRecord", identifier="oai:digitize:HD-TV/HD-WAITING-0007",
                      metadataPrefix="oai_dc")) == "idDoesNotExist"
    assert error(call(verb="GetRecord", identifier=PUBLIC[0], metadataPrefix="marc21")) == "cannotDisseminateFormat"
    assert error(call(verb="GetRecord", identifier=PUBLIC[0])) == "badArgument"
    assert error(call(verb="GetRecord", metadataPrefix="oai_dc")) == "badArgument"
    assert error(call(verb="GetRecord", identifier=PUBLIC[0], metadataPrefix="oai dc")) == "badArgument"


def test_lists_hold_exactly_the_public_items(call):
    assert harvest(call, metadataPrefix="oai_dc")[0] == PUBLIC
    records = call(verb="ListRecords", metadataPrefix="oai_dc")
    assert identifiers(records) == PUBLIC
    assert len(records.findall(".//o:metadata/oai_dc:dc", NS)) == 3
    assert len(call(verb="ListRecords", metadataPrefix="mets").findall(".//o:metadata/mets:mets", NS)) == 3
    assert records.find("o:ListRecords/o:resumptionToken", NS) is None  # all on one page


@pytest.mark.parametrize("window, expected", [
    ({"from": "2026-03-10", "until": "2026-03-10"}, PUBLIC[1:3]),
    ({"from": "2026-01-15"}, PUBLIC),
    ({"until": "2026-01-15"}, PUBLIC[:1]),
    ({"from": "2026-01-16", "until": "2026-03-31"}, PUBLIC[1:3]),
    ({"from": "2026-03-10T08:30:00Z", "until": "2026-03-10T08:30:00Z"}, PUBLIC[1:3]),  # .25 s included
    ({"until": "2026-03-10T08:29:59Z"}, PUBLIC[:1]),
    ({"from": "2026-03-10T08:30:01Z"}, PUBLIC[3:]),
    ({"from": "2026-01-15T10:00:00Z", "until": "2026-01-15T10:00:00Z"}, PUBLIC[:1]),
    ({"set": "library:VP-LT"}, PUBLIC[1:2]),
    ({"set": "category:rare"}, PUBLIC[1:3]),
    ({"set": "library"}, PUBLIC),
    ({"set": "library:HD-TV", "from": "2026-02-01"}, PUBLIC[2:]),
])
def test_selective_harvesting(call, window, expected):
    for verb in ("ListIdentifiers", "ListRecords"):
        assert harvest(call, verb, metadataPrefix="oai_dc", **window)[0] == expected
        assert harvest(call, verb, page_size=1, metadataPrefix="oai_dc", **window)[0] == expected


@pytest.mark.parametrize("window", [{"from": "2026-05-01"}, {"until": "2025-12-31"}, {"set": "category:endogenous"},
                                    {"set": "library:NOPE"}, {"set": "other:x"},
                                    {"from": "2026-02-01T00:00:00Z", "until": "2026-02-28T23:59:59Z"}])
def test_no_records_match(call, window):
    for verb in ("ListIdentifiers", "ListRecords"):
        assert error(call(verb=verb, metadataPrefix="oai_dc", **window)) == "noRecordsMatch"


@pytest.mark.parametrize("window", [{"from": "2026-03-10", "until": "2026-03-10T08:30:00Z"},
                                    {"from": "2026-03-11", "until": "2026-03-10"}, {"from": "2026-02-30"},
                                    {"until": "2026-03-10T08:30:00"}, {"from": "yesterday"}, {"set": "a b"},
                                    {"from": "2026-03-10T08:30:00+07:00"}])
def test_bad_windows(call, window):
    root = call(verb="ListRecords", metadataPrefix="oai_dc", **window)
    assert error(root) == "badArgument" and root.find("o:request", NS).attrib == {}


def test_resumption_tokens(call):
    for verb in ("ListIdentifiers", "ListRecords"):
        found, tokens = harvest(call, verb, page_size=1, metadataPrefix="mets")
        assert found == PUBLIC
        assert [t["cursor"] for t in tokens] == ["0", "1", "2", "3"]
        assert {t["completeListSize"] for t in tokens} == {"4"}
        assert tokens[-1]["text"] == "" and "expirationDate" not in tokens[-1]
        assert all(t["text"] and t["expirationDate"] for t in tokens[:-1])
        found, tokens = harvest(call, verb, page_size=2, metadataPrefix="oai_dc", set="library:HD-TV")
        assert found == [PUBLIC[0], PUBLIC[2], PUBLIC[3]] and [t["cursor"] for t in tokens] == ["0", "2"]
        assert tokens[1] == {"cursor": "2", "completeListSize": "3", "text": ""}
        assert harvest(call, verb, page_size=3, metadataPrefix="oai_dc", set="library:HD-TV")[1] == []


def test_bad_resumption_tokens(call):
    first = call(verb="ListRecords", page_size=1, metadataPrefix="oai_dc")
    token = first.findtext("o:ListRecords/o:resumptionToken", namespaces=NS)
    expires = first.find("o:ListRecords/o:resumptionToken", NS).get("expirationDate")
    assert datetime.fromisoformat(expires.replace("Z", "+00:00")) > datetime.now(timezone.utc) + timedelta(minutes=50)
    body, signature = token.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    sets_token = call(verb="ListSets", page_size=1).findtext("o:ListSets/o:resumptionToken", namespaces=NS)
    for bad in (tampered, "garbage", "", body + ".", token + "x", sets_token):
        root = call(verb="ListRecords", page_size=1, resumptionToken=bad)
        assert error(root) == "badResumptionToken", bad
        assert root.find("o:request", NS).get("resumptionToken") == bad
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert error(call(verb="ListRecords", page_size=1, now=later, resumptionToken=token)) == "badResumptionToken"
    assert error(call(verb="ListSets", resumptionToken=token)) == "badResumptionToken"
    assert identifiers(call(verb="ListIdentifiers", page_size=1, resumptionToken=token)) == PUBLIC[1:2]
    assert error(call(verb="ListRecords", resumptionToken=token, metadataPrefix="oai_dc")) == "badArgument"
    assert error(call(verb="ListRecords", resumptionToken=token, set="library")) == "badArgument"


@pytest.mark.parametrize("params, code", [
    ({}, "badVerb"), ({"verb": "Harvest"}, "badVerb"), ({"verb": ["Identify", "Identify"]}, "badVerb"),
    ({"verb": ""}, "badVerb"),
    ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
    ({"verb": "ListRecords"}, "badArgument"),
    ({"verb": "ListIdentifiers", "metadataPrefix": ["oai_dc", "mets"]}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "identifier": PUBLIC[0]}, "badArgument"),
    ({"verb": "ListSets", "set": "library"}, "badArgument"),
    ({"verb": "ListMetadataFormats", "identifier": [PUBLIC[0], PUBLIC[1]]}, "badArgument"),
    ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
    ({"verb": "ListIdentifiers", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
])
def test_errors(call, params, code):
    root = call(**params)
    assert error(root) == code
    if code in ("badVerb", "badArgument"):
        assert root.find("o:request", NS).attrib == {}


def test_error_for_a_repository_without_public_items(tmp_path):
    store = FolderStore(tmp_path / "store")
    with ledger_session(sqlite_url(tmp_path / "empty.sqlite")) as session:
        identify = oai.validate_oai(oai.respond(session, store, {"verb": "Identify"}, LINKS))
        assert identify.findtext(".//o:earliestDatestamp", namespaces=NS) == "1970-01-01T00:00:00Z"
        sets = oai.validate_oai(oai.respond(session, store, {"verb": "ListSets"}, LINKS))
        assert error(sets) == "noSetHierarchy"
        records = oai.validate_oai(oai.respond(session, store, {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
                                               LINKS))
        assert error(records) == "noRecordsMatch"


def test_a_missing_stored_record_is_left_out(repo, tmp_path):
    session, store, _ = repo
    partial = FolderStore(tmp_path / "partial")
    for item in PUBLIC[:3]:
        key = item.split(":", 2)[2]
        (partial.root / key).mkdir(parents=True)
        if item != PUBLIC[1]:
            shutil.copy(store.root / key / "dc.xml", partial.root / key / "dc.xml")
    records = oai.validate_oai(oai.respond(session, partial, {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
                                           LINKS, page_size=1))
    assert identifiers(records) == PUBLIC[:1]
    token = records.findtext(".//o:resumptionToken", namespaces=NS)
    records = oai.validate_oai(oai.respond(session, partial, {"resumptionToken": token, "verb": "ListRecords"},
                                           LINKS, page_size=1))
    assert identifiers(records) == PUBLIC[2:3]  # the clone, whose dc.xml is missing, is skipped
    get = {"verb": "GetRecord", "identifier": PUBLIC[1], "metadataPrefix": "oai_dc"}
    assert error(oai.validate_oai(oai.respond(session, partial, get, LINKS))) == "cannotDisseminateFormat"
    formats = {"verb": "ListMetadataFormats", "identifier": PUBLIC[1]}
    assert error(oai.validate_oai(oai.respond(session, partial, formats, LINKS))) == "noMetadataFormats"
    formats["identifier"] = PUBLIC[0]
    assert oai.validate_oai(oai.respond(session, partial, formats, LINKS)).xpath(
        "//o:metadataPrefix/text()", namespaces=NS) == ["oai_dc"]


def test_validation_catches_a_broken_response(call):
    root = call(verb="GetRecord", identifier=PUBLIC[0], metadataPrefix="oai_dc")
    root.find(".//o:datestamp", NS).text = "15/01/2026"
    with pytest.raises(oai.OutputInvalid):
        oai.validate_oai(etree.tostring(root))
    root = call(verb="GetRecord", identifier=PUBLIC[0], metadataPrefix="oai_dc")
    etree.SubElement(root.find(".//oai_dc:dc", NS), "{http://purl.org/dc/elements/1.1/}colour").text = "red"
    with pytest.raises(oai.OutputInvalid):
        oai.validate_oai(etree.tostring(root))


@pytest.fixture(scope="module")
def server(repo):
    from sqlalchemy.orm import Session

    from digitize.web.app import add_oai, create_app

    session, store, _ = repo
    engine = session.get_bind()
    app = create_app(lambda: Session(engine), {}, store_url=store.root.as_uri(), oai_page_size=1, secret_key=KEY,
                     links=LINKS)
    add_oai(app, lambda: Session(engine), store.root.as_uri(), LINKS, secret=KEY, path="/oai-default")
    with uvicorn_server(app) as base:
        yield base


def sickle_harvest(url, method="GET", **args) -> list[str]:
    from sickle import Sickle

    harvester = Sickle(url, http_method=method, max_retries=0, timeout=10)
    found = []
    for record in harvester.ListRecords(ignore_deleted=False, **args):
        found.append(record.header.identifier)
        for hidden in HIDDEN:
            assert hidden not in record.raw
        if record.header.deleted:
            assert "<metadata" not in record.raw
        elif args["metadataPrefix"] == "oai_dc":
            assert record.metadata["identifier"][0] == record.header.identifier.rsplit("/", 1)[1]
    return found


@pytest.mark.slow  # a uvicorn server
def test_harvest_with_sickle(server):
    from sickle.oaiexceptions import NoRecordsMatch

    for path in ("/oai", "/oai-default"):
        for method in ("GET", "POST"):
            found = sickle_harvest(server + path, method, metadataPrefix="oai_dc")
            assert sorted(found) == sorted(PUBLIC) and len(found) == len(set(found))
        for window in ({"from": "2026-01-16", "until": "2026-03-10"},
                       {"from": "2026-01-16T00:00:00Z", "until": "2026-03-10T08:30:00Z"}):
            assert sickle_harvest(server + path, metadataPrefix="oai_dc", **window) == PUBLIC[1:3]
        assert sickle_harvest(server + path, metadataPrefix="mets", set="library:HD-TV") == [
            PUBLIC[0], PUBLIC[2], PUBLIC[3]]
        with pytest.raises(NoRecordsMatch):
            sickle_harvest(server + path, metadataPrefix="oai_dc", **{"from": "2027-01-01"})
    answer = httpx.get(server + "/oai", params={"verb": "Identify"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    identify = oai.validate_oai(answer.content)
    assert identify.findtext(".//o:baseURL", namespaces=NS) == LINKS.oai()  # the public address, whatever the server is reached by
    bad = httpx.get(server + "/oai", params=[("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                                             ("metadataPrefix", "mets")])
    assert bad.status_code == 200 and error(oai.validate_oai(bad.content)) == "badArgument"
    assert httpx.get(server + "/staff/").status_code == 303  # the dashboard is behind the staff sign-in


def record(session, item_id: str, access: Access, when: str, category=Category.rare) -> None:
    """One run of ``digitize run`` recording the item as stored, with this access."""
    meta = ItemMetadata(id=item_id, title=f"Nhan đề {item_id}", library="HD-TV", category=category, access=access)
    result = ItemResult(item_id=item_id, library="HD-TV", status="ok", pages=3, stored=f"s3://x/HD-TV/{item_id}")
    ledger.record_run(session, "batch", at(when), at(when), [(meta, result, None)])


def test_an_item_closed_after_it_was_public_is_a_deleted_record(tmp_path):
    store = FolderStore(tmp_path / "store")
    with ledger_session(sqlite_url(tmp_path / "l.sqlite")) as session:
        session.add(Library(code="HD-TV", name="Thư viện tỉnh Hải Dương", province="hai-duong",
                            tier="provincial"))
        session.commit()

        def ask(page_size=1, **params):
            body = oai.respond(session, store, params, LINKS, page_size=page_size)
            for hidden in ("HD-SECRET-FROM-START", "endogenous"):  # never public: named only by the harvester
                assert hidden.encode() not in body or hidden in repr(params), hidden
            return oai.validate_oai(body)

        record(session, "HD-OPEN-0001", Access.open, "2026-01-10T09:00:00")
        record(session, "HD-STAYS-0002", Access.open, "2026-01-11T09:00:00", Category.dia_chi)
        record(session, "HD-SECRET-FROM-START", Access.secret, "2026-01-12T09:00:00", Category.endogenous)
        closing = "oai:digitize:HD-TV/HD-OPEN-0001"
        assert harvest(ask, metadataPrefix="oai_dc")[0] == [closing, "oai:digitize:HD-TV/HD-STAYS-0002"]
        assert ask(verb="ListIdentifiers", metadataPrefix="oai_dc").find(".//o:header", NS).get("status") is None

        record(session, "HD-OPEN-0001", Access.secret, "2026-02-01T08:00:00", Category.endogenous)
        found, tokens = harvest(ask, page_size=1, metadataPrefix="oai_dc")
        assert found == ["oai:digitize:HD-TV/HD-STAYS-0002", closing]  # in datestamp order: it changed last
        assert tokens[0]["completeListSize"] == "2"
        for root in (ask(verb="GetRecord", identifier=closing, metadataPrefix="oai_dc"),
                     ask(verb="ListRecords", metadataPrefix="mets", **{"from": "2026-02-01"})):
            assert identifiers(root) == [closing]
            header = root.find(".//o:header", NS)
            assert header.get("status") == "deleted"
            assert header.findtext("o:datestamp", namespaces=NS) == "2026-02-01T08:00:00Z"  # when it was closed
            assert header.xpath("o:setSpec/text()", namespaces=NS) == ["library:HD-TV"]  # not its new category
            assert root.find(".//o:metadata", NS) is None
        assert identifiers(ask(verb="ListIdentifiers", metadataPrefix="oai_dc", set="library:HD-TV")) == [
            "oai:digitize:HD-TV/HD-STAYS-0002"]  # page 1 of 2
        assert error(ask(verb="ListIdentifiers", metadataPrefix="oai_dc", set="category:rare")) == "noRecordsMatch"
        assert ask(verb="ListSets", page_size=100).xpath("//o:setSpec/text()", namespaces=NS) == [
            "library", "library:HD-TV", "category", "category:dia_chi"]  # not rare: its one item is closed
        assert error(ask(verb="ListMetadataFormats", identifier=closing)) == "noMetadataFormats"
        assert ask(verb="Identify").findtext(".//o:earliestDatestamp", namespaces=NS) == "2026-01-11T09:00:00Z"

        # the item secret from the start answers exactly as an identifier that does not exist
        def answer(ident):
            root = ask(verb="GetRecord", identifier=ident, metadataPrefix="oai_dc")
            return error(root), root.findtext("o:error", namespaces=NS).replace(ident, "ID")
        assert answer("oai:digitize:HD-TV/HD-SECRET-FROM-START") == answer("oai:digitize:HD-TV/NO-SUCH-ITEM") == (
            "idDoesNotExist", "no public item ID")
        for params in ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "category:endogenous"},
                       {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "2026-01-31"}):
            found = identifiers(ask(**params))
            assert "oai:digitize:HD-TV/HD-SECRET-FROM-START" not in found

        record(session, "HD-OPEN-0001", Access.open, "2026-03-01T08:00:00")  # opened again
        header = ask(verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2026-03-01"}).find(".//o:header", NS)
        assert header.findtext("o:identifier", namespaces=NS) == closing and header.get("status") is None
        item = session.scalars(select(Item).where(Item.item_id == "HD-OPEN-0001")).one()
        assert oai.utc(item.published) == at("2026-01-10T09:00:00")  # the first time it was public


def test_migration_marks_the_public_items_as_published(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    url = sqlite_url(tmp_path / "old.sqlite")
    config = Config()
    config.set_main_option("script_location", str(ledger.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0003")  # a ledger from before the column
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO libraries VALUES ('HD-TV', 'Thư viện', 'hai-duong', 'provincial')"))
        for number, (access, status) in enumerate([("open", "ok"), ("secret", "ok"), ("open", "waiting")]):
            connection.execute(text(
                "INSERT INTO items (library, item_id, title, category, access, call_number, control_number, "
                "status, pages, stored, digitized, updated) VALUES ('HD-TV', :id, '', 'rare', :access, '', '', "
                ":status, 1, '', '2026-01-05 10:00:00.000000', '2026-02-05 10:00:00.000000')"),
                {"id": f"ITEM-{number}", "access": access, "status": status})
    engine.dispose()
    with ledger_session(url) as session:  # opening it migrates it
        published = dict(session.execute(select(Item.item_id, Item.published)).all())
    assert {k: v and oai.utc(v) for k, v in published.items()} == {
        "ITEM-0": at("2026-01-05T10:00:00"), "ITEM-1": None, "ITEM-2": None}
