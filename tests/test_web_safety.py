"""`digitize web` against hostile and careless requests, over real HTTP (uvicorn on loopback): no
query parameter comes back as markup, no API docs, staff pages only in the staff app and only on
loopback, protocol errors instead of server errors, size limits, and resumption tokens that only
the key in the data folder can sign."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx
import lxml.html
import pytest
from sqlalchemy.orm import Session

from conftest import (copy_stored_items, free_port, ledger_session, run_cli, sqlite_url, uvicorn_server,
                      wait_until_answers)
from digitize.access import oai
from digitize.core.errors import ConfigError
from digitize.ledger.database import Item
from digitize.ledger.plans import load_plans
from digitize.core.settings import PACKAGED_PROFILES, Settings
from digitize.store.storage import FolderStore
from digitize.core.links import PublicLinks
from digitize.web.app import require_loopback
from test_oai import NS, RESTRICTED_TITLE, SECRET_TITLE, at, error, fill

KEY = b"a test key of at least 32 bytes."
SCRIPT = '"><script>alert(1)</script>'
STORED_XSS = "<script>alert(2)</script> Sách"
TODAY = date(2026, 4, 30)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """test_oai's ledger and store (open, restricted, secret, withdrawn items), plus an open item
    whose title is markup."""
    stored = copy_stored_items(tmp_path_factory.mktemp("stored"))
    folder = tmp_path_factory.mktemp("safety")
    store = FolderStore(folder / "store")
    url = sqlite_url(folder / "l.sqlite")
    with ledger_session(url) as session:
        fill(session, store, stored.store)
        session.add(Item(library="HD-TV", item_id="HD-MARKUP-0010", title=STORED_XSS, category="other",
                         access="open", status="ok", pages=1, digitized=at("2026-04-20T00:00:00"),
                         updated=at("2026-04-20T00:00:00"), published=at("2026-04-20T00:00:00")))
        session.commit()
        yield session, store, url


def make_app(repo, staff: bool, page_size: int = 100, key: bytes = KEY):
    from digitize.web.app import create_app

    session, store, _ = repo
    engine = session.get_bind()
    return create_app(lambda: Session(engine), load_plans(PACKAGED_PROFILES), store_url=store.root.as_uri(),
                      oai_page_size=page_size, today=lambda: TODAY, staff=staff, secret_key=key,
                      links=PublicLinks("https://thuvien.example.vn"))


@pytest.fixture(scope="module")
def public(repo):
    with uvicorn_server(make_app(repo, staff=False, page_size=2)) as base:
        yield base


@pytest.fixture(scope="module")
def staff(repo):
    with uvicorn_server(make_app(repo, staff=True, page_size=2)) as base:
        yield base


def scripts(html: str) -> list:
    return lxml.html.fromstring(html).xpath("//script")


@pytest.mark.slow  # a uvicorn server
def test_query_parameters_never_come_back_as_markup(staff):
    page = httpx.get(staff + "/", params={"lang": SCRIPT, "since": "2026-01-01"})
    assert page.status_code == 200 and scripts(page.text) == []
    assert '<html lang="vi">' in page.text and "Tiến độ số hóa tài liệu" in page.text  # unknown: Vietnamese
    assert "alert(1)" not in page.text
    # a title that is markup shows as text
    assert STORED_XSS in lxml.html.fromstring(page.text).xpath("string(//table[@id='items'])")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    english = httpx.get(staff + "/", params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Digitization progress" in english.text
    for name in ("province", "library", "since", "as_of", "lang", SCRIPT):
        answer = httpx.get(staff + "/", params={name: SCRIPT})
        assert answer.status_code in (200, 400), name
        assert "<script" not in answer.text and scripts(answer.text or "<p></p>") == []
    assert httpx.get(staff + "/", params={"as_of": SCRIPT}).text == "Bad value of as_of."


@pytest.mark.slow  # a uvicorn server
def test_no_api_documentation(public, staff):
    for base in (public, staff):
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert httpx.get(base + path).status_code == 404, base + path


@pytest.mark.slow  # a uvicorn server
def test_the_public_app_shows_open_items_only_and_the_staff_app_the_dashboard(public, staff):
    assert httpx.get(public + "/staff/").status_code == 303  # the dashboard is behind the sign-in
    listed = httpx.get(public + "/libraries/HD-TV").text  # a restricted item's record is listed, with its badge
    assert RESTRICTED_TITLE in listed and "Đọc tại thư viện" in listed and SECRET_TITLE not in listed
    assert "HD-RESTRICTED-0004" in httpx.get(public + "/sitemap.xml").text
    public_text = "".join(httpx.get(public + path).text for path in (
        "/", "/?lang=en", "/iiif/collection.json", "/iiif/HD-TV/collection.json"))
    public_text += "".join(httpx.get(public + "/oai", params=params).text for params in (
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"}, {"verb": "ListRecords", "metadataPrefix": "mets"},
        {"verb": "ListSets"}, {"verb": "Identify"},
        {"verb": "GetRecord", "identifier": "oai:digitize:HD-TV/HD-RESTRICTED-0004", "metadataPrefix": "oai_dc"}))
    assert "HD-DC-0001" in public_text
    assert RESTRICTED_TITLE not in public_text and SECRET_TITLE not in public_text

    dashboard = httpx.get(staff + "/", params={"since": "2025-11-01"})
    items = lxml.html.fromstring(dashboard.text).xpath("string(//table[@id='items'])")
    assert RESTRICTED_TITLE in items  # restricted titles: for staff only
    assert SECRET_TITLE not in dashboard.text and "HD-SECRET-0005" not in dashboard.text
    assert "tài liệu mật" in items  # the secret item is listed, unnamed


def test_the_staff_app_starts_on_loopback_only(tmp_path):
    for host in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        require_loopback(host)
    for host in ("0.0.0.0", "::", "192.0.2.10", "example.org", ""):
        with pytest.raises(ConfigError, match="loopback"):
            require_loopback(host)
    result = run_cli("web", "--staff", "--host", "0.0.0.0", "--port", str(free_port()), data=str(tmp_path),
                     ledger=sqlite_url(tmp_path / "l.sqlite"))
    assert result.returncode == 78
    assert "loopback" in result.stderr and "0.0.0.0" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "l.sqlite").exists()  # refused before anything was opened


def oai_answer(answer: httpx.Response) -> str | None:
    """The OAI-PMH error code of a response (None if none), once it is known to be valid."""
    assert answer.status_code == 200, answer.text
    return error(oai.validate_oai(answer.content))


HOSTILE_OAI = [  # raw query strings, control characters and all
    ("verb=ListRecords&metadataPrefix=oai_dc&until=9999-12-31", {None}),
    ("verb=ListRecords&metadataPrefix=oai_dc&until=9999-12-31T23:59:59Z", {None}),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&from=0001-01-01", {None}),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&from=0001-01-01&until=9999-12-31", {None}),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&from=9999-12-31", {"noRecordsMatch"}),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&until=0001-01-01", {"noRecordsMatch"}),
    ("verb=ListIdentifiers&metadataPrefix=oai_dc&from=0000-01-01", {"badArgument"}),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai%3Adigitize%3AHD-TV%2FHD-DC-0001%01", {"badArgument"}),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%0B", {"badArgument"}),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=a%00b", {"badArgument"}),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%EF%BF%BE", {"badArgument"}),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%ED%A0%80%FF", {"idDoesNotExist"}),  # not UTF-8
    ("verb=ListMetadataFormats&identifier=%1B%5B31m", {"badArgument"}),
    ("verb=ListRecords&metadataPrefix=oai%01dc", {"badArgument"}),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=library%0B", {"badArgument"}),
    ("verb=ListRecords&resumptionToken=%01", {"badArgument"}),
    ("verb=ListRecords&resumptionToken=eyJ9.0", {"badResumptionToken"}),
    ("verb=ListRecords&resumptionToken=" + "A" * 1000, {"badResumptionToken"}),
    ("verb=Identify&x%01y=1", {"badArgument"}),
    ("verb=Identify%01", {"badVerb"}),
    ("verb=%3Cscript%3E", {"badVerb"}),
    ("verb=Identify&verb=ListSets", {"badVerb"}),
    ("%01=%02", {"badVerb"}),
]
HOSTILE_DASHBOARD = ["as_of=9999-12-31", "as_of=0001-01-01", "since=9999-12-31", "since=0001-01-01",
                     "since=0001-01-01&as_of=9999-12-31", "as_of=2026-02-30", "as_of=%00", "since=-1",
                     "lang=%00", "lang=%01%0B", "province=%00", "library=%FF%FE", "as_of=99999-01-01",
                     "lang=en&lang=vi&lang=xx"]


@pytest.mark.slow  # a uvicorn server
def test_hostile_requests_give_protocol_errors_never_a_server_error(public, staff):
    for query, codes in HOSTILE_OAI:
        assert oai_answer(httpx.get(f"{public}/oai?{query}")) in codes, query
        post = httpx.post(public + "/oai", content=query.encode(),
                          headers={"content-type": "application/x-www-form-urlencoded"})
        assert oai_answer(post) in codes, query
    for query in HOSTILE_DASHBOARD:
        answer = httpx.get(f"{staff}/?{query}")
        assert answer.status_code < 500, query
        assert answer.status_code in (200, 400) and scripts(answer.text or "<p></p>") == [], query
    assert httpx.get(staff + "/?as_of=9999-12-31").status_code == 400
    assert httpx.get(staff + "/?since=0001-01-01").status_code == 400
    for path in HOSTILE_SITE:
        answer = httpx.get(public + path)
        assert answer.status_code in (200, 303, 400, 404), path
        assert "alert(1)" not in answer.text, path


HOSTILE_SITE = [f"/libraries/HD-TV?category={SCRIPT}", "/libraries/HD-TV?page=-1", "/libraries/HD-TV?page=x",
                "/libraries/HD-TV?page=99999999999999999999", f"/items/HD-TV/{SCRIPT}", f"/?lang={SCRIPT}",
                f"/items/HD-TV/HD-DC-0001?page={SCRIPT}", "/items/HD-TV/HD-DC-0001/files/../../stored.json",
                "/items/HD-TV/HD-DC-0001/files/mets.xml", "/items/HD-TV/HD-DC-0001/files/%2e%2e/x",
                f"/iiif/HD-TV/HD-DC-0001/1/{SCRIPT}/max/0/default.jpg", "/iiif/HD-TV/HD-DC-0001/99999999999999/info.json",
                "/iiif/HD-TV/HD-DC-0001/1/0,0,99999999,99999999/max/0/default.jpg",
                f"/staff/login?next={SCRIPT}", "/staff/login?next=//evil.example/", "/static/../web.py"]


@pytest.mark.slow  # a uvicorn server
def test_request_size_limits(public):
    form = {"content-type": "application/x-www-form-urlencoded"}
    big = b"verb=Identify&padding=" + b"x" * 100_000
    assert httpx.post(public + "/oai", content=big, headers=form).status_code == 413

    def chunks():  # no Content-Length: the body is counted as it streams in
        yield b"verb=Identify&padding="
        for _ in range(100):
            yield b"x" * 1024

    assert httpx.post(public + "/oai", content=chunks(), headers=form).status_code == 413
    # refused as soon as the headers are in, without waiting for the announced 100 MB
    host, port = urlsplit(public).hostname, urlsplit(public).port
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           b"Content-Length: 100000000\r\n\r\nverb=Identify")
        assert connection.recv(100).startswith(b"HTTP/1.1 413")

    assert httpx.get(public + "/oai?verb=Identify&padding=" + "x" * 3000).status_code == 414
    many = "&".join(f"p{n}=1" for n in range(30))
    assert httpx.get(f"{public}/oai?verb=Identify&{many}").status_code == 400
    assert httpx.post(public + "/oai", content=f"verb=Identify&{many}".encode(), headers=form).status_code == 400
    long_argument = f"verb=GetRecord&metadataPrefix=oai_dc&identifier={'x' * 3000}".encode()
    assert oai_answer(httpx.post(public + "/oai", content=long_argument, headers=form)) == "badArgument"
    assert oai_answer(httpx.post(public + "/oai", content=b"verb=Identify", headers=form)) is None


def token_state(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def first_token(base: str) -> str:
    root = oai.validate_oai(httpx.get(base + "/oai", params={"verb": "ListIdentifiers",
                                                             "metadataPrefix": "oai_dc"}).content)
    return root.findtext(".//o:resumptionToken", namespaces=NS)


@pytest.mark.slow  # a uvicorn server
def test_resumption_tokens_need_the_secret_key(public):
    token = first_token(public)
    state = token_state(token)
    old_key = hashlib.sha256(b"digitize-oai-token:digitize").digest()  # how keys were once derived

    def resume(forged: str) -> str | None:
        return oai_answer(httpx.get(public + "/oai", params={"verb": "ListIdentifiers", "resumptionToken": forged}))

    now = datetime.now(timezone.utc)
    in_a_year = {**state, "e": int((now + timedelta(days=365)).timestamp())}
    in_half_an_hour = {**state, "e": int((now + timedelta(minutes=30)).timestamp())}
    assert resume(token) is None
    assert resume(oai.make_token(state, old_key)) == "badResumptionToken"
    assert resume(oai.make_token(in_a_year, KEY)) == "badResumptionToken"
    assert resume(oai.make_token(in_half_an_hour, KEY)) is None  # the forgeries fail for their key and expiry only


@pytest.mark.slow  # starts `digitize web` and a uvicorn server
def test_served_by_the_cli_with_the_key_of_the_data_folder(repo, tmp_path):
    _, store, url = repo
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DIGITIZE_DATA": str(tmp_path), "DIGITIZE_LEDGER": url, "DIGITIZE_STORE": store.root.as_uri(),
           "DIGITIZE_OAI_PAGE_SIZE": "2", "DIGITIZE_PUBLIC_URL": base}
    env.pop("DIGITIZE_SECRET_KEY", None)
    server = subprocess.Popen([sys.executable, "-m", "digitize.cli", "web", "--port", str(port)], env=env)
    try:
        wait_until_answers(base + "/oai?verb=Identify", 30, process=server)
        assert httpx.get(base + "/staff/").status_code == 303  # the dashboard only after signing in
        assert httpx.get(base + "/docs").status_code == 404
        key_file = tmp_path / "secret.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
        # a second server (another worker, or after a restart) with the same data folder reads the
        # same key: it continues the list the first one started
        token = first_token(base)
        with uvicorn_server(make_app(repo, staff=False, page_size=2,
                                     key=Settings(data=tmp_path, secret_key="").token_key())) as other:
            root = oai.validate_oai(httpx.get(other + "/oai", params={"verb": "ListIdentifiers",
                                                                      "resumptionToken": token}).content)
            assert error(root) is None
            assert root.find(".//o:resumptionToken", NS).get("cursor") == "2"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_secret_key_is_made_once_and_shared(tmp_path):
    make_key = "from digitize.core.settings import Settings; import sys; sys.stdout.write(Settings().token_key().hex())"
    env = {**os.environ, "DIGITIZE_DATA": str(tmp_path / "data")}
    env.pop("DIGITIZE_SECRET_KEY", None)
    started = [subprocess.Popen([sys.executable, "-c", make_key], env=env, stdout=subprocess.PIPE, text=True)
               for _ in range(4)]  # at the same time, into a folder that does not exist yet
    keys = {process.communicate(timeout=60)[0] for process in started}
    assert len(keys) == 1 and bytes.fromhex(keys.pop()) == (tmp_path / "data" / "secret.key").read_bytes()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret.key"]  # no temporary file left
    assert Settings(data=tmp_path / "elsewhere", secret_key="from the environment").token_key() == (
        b"from the environment")
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "data" / "secret.key").write_bytes(b"short")
    with pytest.raises(ConfigError, match="shorter than 32 bytes"):
        Settings(data=tmp_path / "data", secret_key="").token_key()
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot be made or read"):
        Settings(data=tmp_path / "a-file", secret_key="").token_key()
