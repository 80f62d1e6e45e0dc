"""The reading service's holes of issue 25, over real HTTP: numbers written in other digits, the
X-Forwarded-For lines of a trusted proxy, HEAD and the CORS preflight, a sign-out that ends the
session on the server, sign-in throttling that tells no names apart, request headers without end,
and one server process under sixteen upscaled renders at once (answer codes, memory handed back)."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.orm import Session

from conftest import free_port, wait_for, wait_until_answers
from digitize.core.links import PublicLinks
from digitize.ledger import accounts
from digitize.ledger.plans import load_plans
from digitize.core.settings import PACKAGED_PROFILES
from test_web_safety import KEY, repo  # noqa: F401 (the fixture)
from digitize.web.app import server_options

pytestmark = pytest.mark.slow  # uvicorn servers

PASSWORD = "mật khẩu đủ dài 12"
OPEN_IMAGE = "/iiif/HD-TV/HD-DC-0001"
RESTRICTED_IMAGE = "/iiif/HD-TV/HD-RESTRICTED-0004"
READING_ROOM, OUTSIDE = "10.9.1.5", "203.0.113.7"
OTHER_DIGITS = ["%C2%B2", "%D9%A1", "%F0%9D%9F%8F", "%EF%BC%91", "01", "1%20"]  # ², ١, 𝟏, １, a leading zero


@contextmanager
def served(app):
    """``app`` served in a thread with the uvicorn options of `digitize web` (which, unlike
    uvicorn's defaults, leaves X-Forwarded-For to the app); yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, proxy_headers=False,
                                          **server_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), 30, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def public(repo):  # noqa: F811
    """The public app behind a trusted proxy (127.0.0.1), with a reading room and a staff account
    (published at http://, so that its cookies are not Secure-only)."""
    from digitize.web.app import create_app

    session, store, _ = repo
    if accounts.find_user(session, "staff") is None:
        accounts.add_user(session, "staff", PASSWORD)
    engine = session.get_bind()
    app = create_app(lambda: Session(engine), load_plans(PACKAGED_PROFILES), store_url=store.root.as_uri(),
                     secret_key=KEY, links=PublicLinks("http://thuvien.example.vn"),
                     reading_rooms=[ipaddress.ip_network("10.9.0.0/16")],
                     proxies=[ipaddress.ip_network("127.0.0.1/32")])
    with served(app) as base:
        yield base


def test_numbers_in_other_digits_are_refused_never_a_server_error_or_page_1(public):
    assert httpx.get(f"{public}{OPEN_IMAGE}/1/info.json").status_code == 200
    for digit in OTHER_DIGITS:
        for path in (f"{OPEN_IMAGE}/{digit}/info.json", f"{OPEN_IMAGE}/{digit}",
                     f"{OPEN_IMAGE}/{digit}/full/100,/0/default.jpg"):
            assert httpx.get(public + path).status_code == 404, path
        for region, size in ((f"{digit}2,0,10,10", "max"), ("full", f"{digit}00,")):
            if digit in ("01", "1%20"):
                continue  # a region's or size's number may have a leading zero (the canonical link tells)
            assert httpx.get(f"{public}{OPEN_IMAGE}/1/{region}/{size}/0/default.jpg").status_code == 400, digit
        for parameter in ("page", "from", "to") if digit.startswith("%") else ("page",):  # year 01 is year 1
            answer = httpx.get(f"{public}/search?q=x&{parameter}={digit}")
            assert answer.status_code == 400, (parameter, digit)
    assert httpx.get(f"{public}/search?q=x&from=1900&to=2000&page=1").status_code == 200


def test_every_x_forwarded_for_line_of_the_trusted_proxy_is_read(public):
    info = f"{public}{RESTRICTED_IMAGE}/1/info.json"
    assert httpx.get(info, headers={"x-forwarded-for": READING_ROOM}).status_code == 200
    assert httpx.get(info, headers={"x-forwarded-for": OUTSIDE}).status_code == 404
    # the client wrote a reading room's address; the proxy added the client's own on a line of its own
    two_lines = [("x-forwarded-for", READING_ROOM), ("x-forwarded-for", OUTSIDE)]
    assert httpx.get(info, headers=two_lines).status_code == 404
    assert httpx.get(info, headers=[("x-forwarded-for", OUTSIDE), ("x-forwarded-for", READING_ROOM)]).status_code \
        == 200  # the last hop before the proxy is the reading room


def test_head_is_answered_wherever_get_is_and_the_cors_preflight_for_iiif_and_search(public):
    for path in ("/", "/libraries/HD-TV", "/items/HD-TV/HD-DC-0001", f"{OPEN_IMAGE}/1/info.json",
                 f"{OPEN_IMAGE}/1/full/100,/0/default.jpg", f"{OPEN_IMAGE}/manifest.json", "/iiif/collection.json",
                 "/items/HD-TV/HD-DC-0001/files/images/0001.jpg", "/search?q=x", "/sitemap.xml", "/static/site.css",
                 "/oai?verb=Identify", f"{OPEN_IMAGE}/9/info.json"):
        got, head = httpx.get(public + path), httpx.head(public + path)
        assert head.status_code == got.status_code != 405, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag", "access-control-allow-origin"):
            if name in got.headers and not (name == "content-length" and path.startswith("/oai")):
                assert head.headers.get(name) == got.headers[name], (path, name)
    asked = {"origin": "https://viewer.example.org", "access-control-request-method": "GET",
             "access-control-request-headers": "accept, if-none-match"}
    for path in (f"{OPEN_IMAGE}/1/info.json", f"{OPEN_IMAGE}/1/full/100,/0/default.jpg",
                 f"{OPEN_IMAGE}/manifest.json", f"{OPEN_IMAGE}/search?q=x", "/search?q=x", "/iiif/collection.json"):
        answer = httpx.options(public + path, headers=asked)
        assert answer.status_code == 204, path
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "GET" in answer.headers["access-control-allow-methods"]
        assert answer.headers["access-control-allow-headers"] == "accept, if-none-match"
    # the document itself still withholds the grant where it must: a restricted item's images
    assert "access-control-allow-origin" not in httpx.get(
        f"{public}{RESTRICTED_IMAGE}/1/info.json", headers={"x-forwarded-for": READING_ROOM}).headers


def signed_in(base: str, address: str) -> tuple[httpx.Client, str]:
    """A client that signed in as staff from ``address`` (passed on by the proxy), and its form token."""
    http = httpx.Client(base_url=base, headers={"x-forwarded-for": address}, follow_redirects=False)
    form = http.get("/staff/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    signed = http.post("/staff/login", data={"name": "staff", "password": PASSWORD, "csrf": token})
    assert signed.status_code == 303, signed.text
    dashboard = http.get("/staff/")
    assert dashboard.status_code == 200
    return http, re.search(r'name="csrf" value="([^"]+)"', dashboard.text).group(1)


def test_a_cookie_saved_before_sign_out_no_longer_opens_anything(public):
    http, token = signed_in(public, OUTSIDE)
    saved = http.cookies[accounts.SESSION_COOKIE]
    restricted = f"{RESTRICTED_IMAGE}/1/info.json"
    assert httpx.get(public + restricted, cookies={accounts.SESSION_COOKIE: saved}).status_code == 200
    other, _ = signed_in(public, OUTSIDE)  # the same person in another browser
    assert http.post("/staff/logout", data={"csrf": token}).status_code == 303
    replayed = {accounts.SESSION_COOKIE: saved}
    assert httpx.get(public + "/staff/", cookies=replayed, follow_redirects=False).status_code == 303
    assert httpx.get(public + restricted, cookies=replayed).status_code == 404
    assert other.get("/staff/").status_code == 200  # only the session signed out ends
    other.close()
    http.close()


def test_failed_sign_ins_answer_the_same_for_any_name_and_lock_no_one_out(public):
    guesser = httpx.Client(base_url=public, headers={"x-forwarded-for": "198.51.100.4"})
    form = guesser.get("/staff/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    answers = {}
    for name in ("staff", "nobody"):
        for attempt in range(accounts.MAX_FAILURES + 1):
            wrong = guesser.post("/staff/login", data={"name": name, "password": f"wrong-{attempt}", "csrf": token})
            answers.setdefault(name, []).append((wrong.status_code, wrong.text))
        started = time.perf_counter()
        held = guesser.post("/staff/login", data={"name": name, "password": PASSWORD, "csrf": token})
        answers[name].append((held.status_code, held.text, time.perf_counter() - started < 0.5))
    assert answers["staff"] == answers["nobody"]  # status, page and speed: the name is not told apart
    assert answers["staff"][0][1] != answers["staff"][-1][1]  # the page says why: too many attempts
    assert answers["staff"][-1][0] == 403
    guesser.close()
    # the staff member, from their own address, signs in all the same
    http, _ = signed_in(public, "198.51.100.77")
    http.close()


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return int(next(line for line in status if line.startswith(field + ":")).split()[1])


@pytest.fixture(scope="module")
def cli_server(repo, tmp_path_factory):  # noqa: F811
    """`digitize web` (one process) serving the repo's items: (base URL, process)."""
    _, store, url = repo
    data = tmp_path_factory.mktemp("web-data")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DIGITIZE_DATA": str(data), "DIGITIZE_LEDGER": url, "DIGITIZE_STORE": store.root.as_uri(),
           "DIGITIZE_PUBLIC_URL": base}
    server = subprocess.Popen([sys.executable, "-m", "digitize.cli", "web", "--port", str(port)], env=env)
    try:
        wait_until_answers(base + "/", 60, process=server)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_request_headers_without_end_are_cut_short(cli_server):
    base, _ = cli_server
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        started, answer = time.monotonic(), b""
        try:
            for _ in range(64):  # up to 1 MB of one header, never ended
                connection.sendall(b"a" * 16384)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = connection.recv(100)
        except ConnectionResetError:
            pass
        assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431")), answer
        assert time.monotonic() - started < 5
    assert httpx.get(base + "/", headers={"x-padding": "a" * 8000}).status_code == 200  # ordinary ones pass


def test_sixteen_upscaled_renders_at_once_are_bounded_and_the_memory_handed_back(cli_server):
    base, server = cli_server
    image = f"{base}{OPEN_IMAGE}/1/full"
    with httpx.Client(timeout=60) as http:
        assert http.get(f"{image}/^2000,/0/default.png").status_code == 200  # warmed up: the page decoded once
        assert http.get(f"{base}{OPEN_IMAGE}/1/full/^1,16000000/0/default.png").status_code == 400  # too far
    baseline = rss_kib(server.pid)
    answers, peak, stop = [], [baseline], threading.Event()

    def sample():
        while not stop.is_set():
            peak.append(rss_kib(server.pid))
            time.sleep(0.02)

    def render(n: int) -> httpx.Response:
        return httpx.get(f"{image}/^{2800 + n},/0/default.png", timeout=120)

    sampler = threading.Thread(target=sample)
    sampler.start()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(render, range(16)))
        home = httpx.get(base + "/", timeout=30)
    stop.set()
    sampler.join()
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 503} and 200 in codes, codes
    assert all(a.headers.get("retry-after", "").isdigit() for a in answers if a.status_code == 503)
    assert all(a.content.startswith(b"\x89PNG") for a in answers if a.status_code == 200)
    assert home.status_code == 200
    time.sleep(0.5)
    after = rss_kib(server.pid)
    print(f"RSS before {baseline // 1024} MiB, peak {max(peak) // 1024} MiB, after {after // 1024} MiB; {codes}")
    assert after - baseline < 80 * 1024, (baseline, max(peak), after)  # handed back, but for what the caches keep
