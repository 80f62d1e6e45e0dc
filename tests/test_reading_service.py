"""The reading service, end to end: a batch digitized by `digitize run` (an open, a restricted, a
secret and a Hán-Nôm item, their library declared in libraries.toml only) served by a real
`digitize web` process on 127.0.0.1; readers anonymous, in a reading room (behind the trusted proxy)
and signed in as staff; every public output checked for stored locations, and each of its links
followed."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from html import escape as escape_html, unescape as html_unescape
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import httpx
import pytest

from conftest import (ARTIFACTS, SAMPLES, free_port, invoke_cli, run_cli, sample_manifest, serious_accessibility_faults,
                      start_cli, wait_until_answers)
from digitize.describe import dublincore
from digitize.core import labels
from digitize.access.iiif import presentation as manifest
from digitize.search import index as search
from digitize.access import pages, site
from digitize.core.settings import PACKAGED_PROFILES
from hanpages import render_pages

pytestmark = pytest.mark.slow

LIBRARY = "TEST"
SECRET_TITLE = "Hồ sơ mật Quỳnh Côi"
READING_ROOM = "10.9.1.5"  # inside DIGITIZE_READING_ROOMS
OUTSIDE = "203.0.113.7"
PASSWORD = "đúng-mật-khẩu-dài"
ITEMS = {  # id: (access, title, pages from sample_scans)
    "OPEN-1": ("open", "Địa chí Hải Dương mở, làng Quỳnh Côi", ["HD-DC-0001/0002.jpg", "HD-DC-0001/0003.png"]),
    "RESTR-1": ("restricted", "Tài liệu hạn chế về Quỳnh Côi", ["HD-DC-0001/0001.tif"]),
    "SECRET-1": ("secret", SECRET_TITLE, ["HN-TK-0002/0001.tif"]),
}
RESTRICTED_CREATOR = "Phạm Đình Hổ"
ROOM = {"reading_room": "Phòng đọc địa chí, tầng 2", "address": "Số 1 phố Tuy An, Hải Dương",
        "hours": "Thứ Hai–Thứ Sáu, 7:30–17:00"}
LIBRARIES_TOML = (f'[{LIBRARY}]\nname = "Thư viện thử nghiệm"\nprovince = "hai-duong"\ntier = "provincial"\n'
                  + "".join(f'{key} = "{value}"\n' for key, value in ROOM.items()))
HAN = "HAN-1"
OAI_QUERIES = ["verb=Identify", "verb=ListSets", "verb=ListIdentifiers&metadataPrefix=oai_dc",
               "verb=ListRecords&metadataPrefix=oai_dc", "verb=ListRecords&metadataPrefix=mets"]


def words(path: Path) -> set[str]:
    return {w for w in re.findall(r"\w{4,}", path.read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The batch digitized and stored, a staff account, and `digitize web` serving it:
    (base URL, data folder, batch, environment)."""
    root = tmp_path_factory.mktemp("reading")
    batch, data = root / "batch", root / "data"
    profiles = data / "profiles"
    shutil.copytree(PACKAGED_PROFILES, profiles)
    (profiles / "libraries.toml").write_text(LIBRARIES_TOML, encoding="utf-8")
    for item_id, (access, title, pages) in ITEMS.items():
        folder = batch / item_id
        folder.mkdir(parents=True)
        for page in pages:
            shutil.copy2(SAMPLES / page, folder / Path(page).name)
        (folder / "item.toml").write_text(f'id = "{item_id}"\ntitle = "{title}"\nlibrary = "{LIBRARY}"\n'
                                          f'access = "{access}"\ncategory = "dia_chi"\n'
                                          + (f'creator = "{RESTRICTED_CREATOR}"\n' if item_id == "RESTR-1" else ""),
                                          encoding="utf-8")
    [entry] = render_pages(Path(__file__).parents[1] / "scripts" / "corpus" / "han-qianziwen.txt",
                           root / "render", 1, 1, "vertical", fmt="png", border=False)
    (batch / HAN).mkdir()
    shutil.copy2(root / "render" / entry["image"], batch / HAN / "p1.png")
    (batch / HAN / "item.toml").write_text(f'id = "{HAN}"\ntitle = "Thiên tự văn"\nlibrary = "{LIBRARY}"\n'
                                           'access = "open"\ncategory = "rare"\nprofile = "han-nom"\n',
                                           encoding="utf-8")
    settings = {"data": str(data), "profiles": str(profiles)}
    done = invoke_cli("run", str(batch), "--workers", "2", **settings)
    assert done.returncode == 0, done.stdout + done.stderr
    added = invoke_cli("user", "add", "staff", "--password-stdin", stdin=PASSWORD + "\n", data=str(data))
    assert added.returncode == 0, added.stdout + added.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings |= {"public_url": base, "reading_rooms": "10.9.0.0/16", "trusted_proxies": "127.0.0.1/32"}
    server = start_cli(root / "web.log", "web", "--port", str(port), "--workers", "1", **settings)
    try:
        wait_until_answers(base + "/", 60, process=server, log=root / "web.log")
        yield base, data, batch, settings
    finally:
        while CLIENTS:
            CLIENTS.pop().close()
        server.terminate()
        server.wait(timeout=30)


CLIENTS: list[httpx.Client] = []  # closed when the module's server stops


def client(base: str, who: str) -> httpx.Client:
    """A client as ``who`` sees the site: "anonymous" (outside), "reading room" (its address passed
    on by the trusted proxy), or "staff" (signed in through the form)."""
    headers = {"x-forwarded-for": READING_ROOM if who == "reading room" else OUTSIDE}
    http = httpx.Client(base_url=base, headers=headers, timeout=60, follow_redirects=False)
    CLIENTS.append(http)
    if who == "staff":
        form = http.get("/staff/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        signed = http.post("/staff/login", data={"name": "staff", "password": PASSWORD, "csrf": token,
                                                 "next": "/staff/"})
        assert signed.status_code == 303, signed.text
    return http


def item_routes(item_id: str) -> list[str]:
    prefix = f"/items/{LIBRARY}/{item_id}"
    image = f"/iiif/{LIBRARY}/{item_id}/1"
    return [prefix, f"{prefix}?lang=en", f"{prefix}/files/{item_id}.pdf", f"{prefix}/files/alto/0001.xml",
            f"{prefix}/files/text/0001.txt", f"{prefix}/files/images/0001.jpg",
            f"/iiif/{LIBRARY}/{item_id}/manifest.json", f"{image}/info.json", image,
            f"{image}/full/200,/0/default.jpg", f"{image}/0,0,512,512/512,/0/default.jpg",
            f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:digitize:{LIBRARY}/{item_id}"]


def answers(http: httpx.Client, paths: list[str]) -> list[tuple[str, int, bytes]]:
    found = []
    for path in paths:
        answer = http.get(path)
        body = re.sub(rb"<responseDate>[^<]*</responseDate>", b"", answer.content)
        found.append((path, answer.status_code, body))
    return found


def restricted_only_words(out: Path) -> set[str]:
    """Words of the restricted item's text that no other item, module or catalogue holds (folded)."""
    known = set().union(*(words(Path(module.__file__)) for module in (site, labels, dublincore, manifest)),
                        *(words(po) for po in pages.LOCALE.glob("*/LC_MESSAGES/digitize.po")))
    elsewhere = {search.fold(w) for w in set().union(*(words(out / i / f"{i}.txt") for i in ("OPEN-1", HAN)),
                                                    known, *(set(re.findall(r"\w{4,}", v)) for v in ROOM.values()),
                                                    words(Path(__file__)))}
    return {w for w in words(out / "RESTR-1" / "RESTR-1.txt") if search.fold(w) not in elsewhere}


def test_secret_items_are_answered_as_missing_and_restricted_ones_open_only_in_the_reading_room(service):
    """The access walk: every route of every item for an anonymous reader, one in the reading room
    and signed-in staff. A restricted item has a public record for everyone (its description and
    where to read it, listed and counted) and opens (pages, images, manifest, text) only in the
    reading room or to staff; the reading room offers no downloads (the library's default)."""
    base, data, batch, _ = service
    out = data / "out" / LIBRARY
    known = set().union(*(words(Path(module.__file__)) for module in (site, labels, dublincore, manifest)),
                        *(words(po) for po in pages.LOCALE.glob("*/LC_MESSAGES/digitize.po")))
    others = set().union(*(words(out / item_id / f"{item_id}.txt") for item_id in ("OPEN-1", "RESTR-1", HAN)))
    secret_words = words(out / "SECRET-1" / "SECRET-1.txt") - others - known
    assert len(secret_words) > 5
    restricted_words = restricted_only_words(out)
    assert len(restricted_words) >= 3
    general = ["/", "/?lang=en", f"/libraries/{LIBRARY}", f"/libraries/{LIBRARY}?category=dia_chi",
               "/iiif/collection.json", f"/iiif/{LIBRARY}/collection.json", "/sitemap.xml",
               *(f"/oai?{query}" for query in OAI_QUERIES)]
    record = item_routes("RESTR-1")[:2]  # its page, in both languages: the record outside
    downloads = [path for path in item_routes("RESTR-1") if "/files/" in path]
    for who in ("anonymous", "reading room", "staff"):
        http = client(base, who)
        seen = answers(http, general)
        for item_id in ("OPEN-1", "RESTR-1", HAN):
            seen += answers(http, item_routes(item_id))
        statuses = {path: status for path, status, _ in seen}
        assert all(statuses[path] in (200, 303) for path in general), (who, statuses)
        opened = who != "anonymous"
        for item_id, expected in (("OPEN-1", True), (HAN, True), ("RESTR-1", opened)):
            for path in item_routes(item_id)[:-1]:  # (OAI-PMH: open items only, below)
                if item_id == "RESTR-1" and path in record:
                    assert statuses[path] == 200, (who, path)  # the record, or the item to read
                elif item_id == "RESTR-1" and path in downloads and who == "reading room":
                    assert statuses[path] == 403, (who, path)  # read in the viewer, not downloaded
                else:
                    assert (statuses[path] in (200, 303)) == expected, (who, path, statuses[path])
        text = b"\n".join(body for _, _, body in seen).decode("utf-8", "replace")
        assert "OPEN-1" in text and "Địa chí Hải Dương mở" in text
        listings = {path: body.decode() for path, _, body in seen[:len(general)]}
        for path, body in listings.items():  # its record listed for all; its manifest where it opens
            if path.startswith("/libraries/") or path == "/sitemap.xml":
                assert "RESTR-1" in body, (who, path)
            elif path == f"/iiif/{LIBRARY}/collection.json":
                assert ("RESTR-1" in body) == opened, (who, path)
        site_list = listings[f"/libraries/{LIBRARY}"]
        assert re.search(r'class="total">3 tài liệu<', site_list), who  # OPEN-1, RESTR-1, HAN-1
        assert site_list.count("Đọc tại thư viện") == 1 and '<span class="count">2</span>' in site_list
        pages_of_record = {path: body.decode() for path, _, body in seen if path in record}
        for path, page in pages_of_record.items():
            assert "Tài liệu hạn chế về Quỳnh Côi" in page and RESTRICTED_CREATOR in page, (who, path)
            if not opened:  # the record: where to read it, never its pages, images, text or PDF
                assert all(value in page for value in ROOM.values()), path
                assert 'id="restricted-notice"' in page and 'id="viewer"' not in page
                assert f"/iiif/{LIBRARY}/RESTR-1/" not in page and "/files/" not in page and "<img" not in page
                assert not restricted_words & set(re.findall(r"\w{4,}", page)), path
        if who == "anonymous":
            assert not restricted_words & set(re.findall(r"\w{4,}", text))
        if who == "reading room":  # read in the viewer, no download offered
            page = pages_of_record[record[0]]
            assert 'id="viewer"' in page and 'id="pdf-link"' not in page and ".pdf" not in page
            room_manifest = http.get(f"/iiif/{LIBRARY}/RESTR-1/manifest.json").json()
            assert "rendering" not in room_manifest and "/files/" not in json.dumps(room_manifest)
            assert http.get(f"/items/{LIBRARY}/OPEN-1/files/OPEN-1.pdf").status_code == 200  # open items: as ever
        if who == "staff":
            assert 'id="pdf-link"' in pages_of_record[record[0]]
        for hidden in ("SECRET-1", SECRET_TITLE):
            assert hidden not in text, (who, hidden)
        assert not secret_words & set(re.findall(r"\w{4,}", text)), who
        # every route of the secret item answers exactly as one of an item that never existed
        secret, missing = answers(http, item_routes("SECRET-1")), answers(http, item_routes("NO-SUCH-1"))
        for (path, status, body), (_, missing_status, missing_body) in zip(secret, missing):
            assert status == missing_status and status in (404, 200), (who, path, status)
            assert body.replace(b"SECRET-1", b"NO-SUCH-1") == missing_body, (who, path)
        # OAI-PMH publishes open items only, whoever asks
        oai = {path: body.decode() for path, _, body in seen if path.startswith("/oai")}
        assert "RESTR-1" not in "".join(body for path, body in oai.items() if "GetRecord" not in path)
        assert 'code="idDoesNotExist"' in oai[item_routes("RESTR-1")[-1]]
    # the secret item is answered as a missing one by the search too, with the new access filter
    http = client(base, "anonymous")
    for access in ("", "online", "library"):
        secret = http.get("/search", params={"q": f'"{SECRET_TITLE}"', "access": access},
                          headers={"accept": "application/json"}).json()
        assert secret["total"] == 0 and secret["hits"] == [] and secret["facets"] == search.empty_facets(), access


def test_a_restricted_item_is_found_by_its_title_and_creator_and_by_no_word_of_its_text(service):
    base, data, _, _ = service
    restricted_words = sorted(restricted_only_words(data / "out" / LIBRARY))
    anonymous, room = client(base, "anonymous"), client(base, "reading room")
    for query in ("tai lieu han che", "Tài liệu hạn chế về Quỳnh Côi", "pham dinh ho", RESTRICTED_CREATOR):
        html, answer = search_answers(anonymous, query)
        [hit] = [hit for hit in answer["hits"] if hit["itemId"] == "RESTR-1"]
        assert hit["page"] is None and hit["access"] == "restricted" and hit["url"].startswith(
            f"{base}/items/{LIBRARY}/RESTR-1?"), query
        assert "Đọc tại thư viện" in html and f"/iiif/{LIBRARY}/RESTR-1/" not in html, query
        opened = anonymous.get(hit["url"])
        assert opened.status_code == 200 and all(value in opened.text for value in ROOM.values())
    english, _ = search_answers(anonymous, "pham dinh ho", lang="en")
    assert "Read at the library" in english
    # no word of its text finds it outside; in the reading room the same words find its page
    for word in restricted_words[:10]:
        _, answer = search_answers(anonymous, search.fold(word))
        assert "RESTR-1" not in {hit["itemId"] for hit in answer["hits"]}, word
    found_inside = [word for word in restricted_words[:10]
                    if any(hit["itemId"] == "RESTR-1" and hit["page"] == 1
                           for hit in search_answers(room, search.fold(word))[1]["hits"])]
    assert len(found_inside) == len(restricted_words[:10])
    # the access filter: all, read online, read at the library
    for who, http in (("anonymous", anonymous), ("reading room", room)):
        def ids(**parameters) -> set[str]:
            return {hit["itemId"] for hit in search_answers(http, "quynh coi", **parameters)[1]["hits"]}
        assert ids() == {"OPEN-1", "RESTR-1"}, who
        assert ids(access="online") == {"OPEN-1"} and ids(access="library") == {"RESTR-1"}, who
    assert anonymous.get("/search", params={"q": "a", "access": "secret"}).status_code == 400
    form = anonymous.get("/search", params={"q": "quynh coi", "access": "library"}).text
    assert '<option value="library" selected>Đọc tại thư viện</option>' in form


def test_a_library_that_offers_downloads_in_its_reading_room_gives_the_pdf_there_and_still_none_outside(
        service, tmp_path):
    """reading_room_downloads = true in libraries.toml: the same ledger and store served again."""
    base, data, _, settings = service
    profiles = tmp_path / "profiles"
    shutil.copytree(settings["profiles"], profiles)
    (profiles / "libraries.toml").write_text(LIBRARIES_TOML + "reading_room_downloads = true\n", encoding="utf-8")
    port = free_port()
    other = f"http://127.0.0.1:{port}"
    server = start_cli(tmp_path / "web.log", "web", "--port", str(port),
                       **{**settings, "profiles": str(profiles), "public_url": other})
    try:
        wait_until_answers(other + "/", 60, process=server, log=tmp_path / "web.log")
        room, anonymous = client(other, "reading room"), client(other, "anonymous")
        page = room.get(f"/items/{LIBRARY}/RESTR-1").text
        assert 'id="viewer"' in page and 'id="pdf-link"' in page
        assert room.get(f"/iiif/{LIBRARY}/RESTR-1/manifest.json").json()["rendering"][0]["format"] == "application/pdf"
        stored = json.loads((data / "store" / LIBRARY / "RESTR-1" / "stored.json").read_text())["objects"]
        for path in [p for p in item_routes("RESTR-1") if "/files/" in p]:
            answer = room.get(path)
            relative = path.split("/files/", 1)[1]
            assert answer.status_code == 200 and hashlib.sha256(answer.content).hexdigest() == stored[relative]["sha256"]
            assert anonymous.get(path).status_code == 404, path  # outside: as ever
        record = anonymous.get(f"/items/{LIBRARY}/RESTR-1").text
        assert 'id="restricted-notice"' in record and ".pdf" not in record
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_restricted_items_record_reads_well_on_a_phone_and_a_desktop(service, browser, lang):
    base, _, _, _ = service
    for name, viewport in (("phone", {"width": 390, "height": 844}), ("desktop", {"width": 1280, "height": 800})):
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone", has_touch=name == "phone")
        page = context.new_page()
        asked = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{base}/items/{LIBRARY}/RESTR-1" + ("?lang=en" if lang == "en" else ""))
        notice = page.locator("#restricted-notice")
        assert notice.is_visible() and ROOM["address"] in notice.inner_text()
        assert ("reading room" if lang == "en" else "phòng đọc") in notice.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        assert not [url for url in asked if "/iiif/" in url or "/files/" in url]  # nothing of its pages asked
        serious = serious_accessibility_faults(page)
        assert not serious, serious
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"restricted-record-{name}-{lang}.png"), full_page=True)
        page.goto(f"{base}/libraries/{LIBRARY}" + ("?lang=en" if lang == "en" else ""))
        badge = page.locator(".at-library")
        assert badge.count() == 1 and badge.inner_text() == ("Read at the library" if lang == "en" else "Đọc tại thư viện")
        serious = serious_accessibility_faults(page)
        assert not serious, serious
        page.screenshot(path=str(ARTIFACTS / f"restricted-list-{name}-{lang}.png"), full_page=True)
        context.close()


def test_staff_sign_in_refuses_wrong_passwords_forged_cookies_and_forms_without_their_token(service):
    from digitize.ledger import accounts

    base, data, _, _ = service
    http = client(base, "anonymous")
    assert http.get("/staff/").status_code == 303  # to the sign-in form
    form = http.get("/staff/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    wrong = http.post("/staff/login", data={"name": "staff", "password": "not-the-password", "csrf": token})
    assert wrong.status_code == 403 and "digitize_session" not in wrong.headers.get("set-cookie", "")
    unknown = http.post("/staff/login", data={"name": "nobody", "password": PASSWORD, "csrf": token})
    assert unknown.status_code == 403 and unknown.text == wrong.text  # a name is not told apart
    without_token = http.post("/staff/login", data={"name": "staff", "password": PASSWORD})
    other_form = httpx.post(base + "/staff/login", data={"name": "staff", "password": PASSWORD, "csrf": token})
    assert without_token.status_code == 403 and other_form.status_code == 403  # (no form cookie: another site)
    key = (data / "secret.key").read_bytes()
    now = datetime.now(timezone.utc)
    good = accounts.make_session("staff", key, now)
    expired = accounts.make_session("staff", key, now - timedelta(hours=9))
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    other_key = accounts.make_session("staff", b"x" * 32, now)
    for cookie, allowed in ((good, True), (expired, False), (forged, False), (other_key, False)):
        answer = httpx.get(base + "/staff/", cookies={"digitize_session": cookie})
        assert (answer.status_code == 200) == allowed, cookie
    signed = client(base, "staff")
    assert signed.get(f"/items/{LIBRARY}/RESTR-1/files/RESTR-1.pdf").status_code == 200
    assert signed.post("/staff/logout", data={}).status_code == 403  # sign-out needs the form's token too
    guesser = httpx.Client(base_url=base, headers={"x-forwarded-for": "198.51.100.9"}, cookies=http.cookies)
    for attempt in range(5):
        guesser.post("/staff/login", data={"name": "staff", "password": f"wrong-{attempt}", "csrf": token})
    locked = guesser.post("/staff/login", data={"name": "staff", "password": PASSWORD, "csrf": token})
    assert locked.status_code == 403 and "sign-in-error" in locked.text
    guesser.close()
    listed = invoke_cli("user", "list", data=str(data))
    assert "staff" in listed.stdout and "locked" in listed.stdout
    client(base, "staff")  # the staff member, from another address, still signs in
    invoke_cli("user", "remove", "staff", data=str(data))
    assert signed.get(f"/items/{LIBRARY}/RESTR-1/files/RESTR-1.pdf").status_code == 404  # sessions end with it
    added = invoke_cli("user", "add", "staff", "--password-stdin", stdin=PASSWORD + "\n", data=str(data))
    assert added.returncode == 0


def test_images_and_files_are_revalidated_by_etag_and_what_a_reading_room_opens_stays_private(service):
    base, _, _, _ = service
    http = client(base, "anonymous")
    for path in (f"/iiif/{LIBRARY}/OPEN-1/1/0,0,512,512/256,/0/default.jpg", f"/items/{LIBRARY}/OPEN-1/files/OPEN-1.pdf",
                 f"/iiif/{LIBRARY}/OPEN-1/manifest.json", f"/iiif/{LIBRARY}/OPEN-1/1/info.json"):
        first = http.get(path)
        assert first.status_code == 200 and first.headers["cache-control"].startswith("public"), path
        assert first.headers.get("access-control-allow-origin") == "*" or "/files/" in path, (path, first.headers)
        again = http.get(path, headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        assert http.get(path, headers={"if-none-match": '"another"'}).status_code == 200
    room = client(base, "reading room")
    tile = room.get(f"/iiif/{LIBRARY}/RESTR-1/1/full/256,/0/default.jpg")
    assert tile.status_code == 200 and tile.headers["cache-control"] == "private, no-store"
    assert "access-control-allow-origin" not in tile.headers  # another site's script may not read it


def public_texts(base: str, data: Path, root: Path, settings: dict[str, str]) -> dict[str, str]:
    """Every public output, by name: OAI-PMH records, the DCAT dataset, the union catalogue, a public bag."""
    texts = {}
    http = client(base, "anonymous")
    for query in OAI_QUERIES:
        texts[f"oai {query}"] = http.get(f"/oai?{query}").text
    dataset = invoke_cli("dataset", LIBRARY, **settings)
    assert dataset.returncode == 0, dataset.stderr
    texts["dcat"] = dataset.stdout
    union = root / "union.xml"
    catalogue = invoke_cli("union-catalogue", LIBRARY, "--out", str(union), **settings)
    assert catalogue.returncode == 0, catalogue.stderr
    texts["marcxml"] = union.read_text(encoding="utf-8")
    bags = root / "bags"
    exported = invoke_cli("export", "--to", str(bags), "--public", **settings)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    for path in sorted(bags.rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".txt") and "alto" not in path.parts:
            texts[f"bag {path.relative_to(bags)}"] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def test_public_outputs_name_no_stored_location_and_every_link_resolves(service, tmp_path):
    base, data, batch, settings = service
    texts = public_texts(base, data, tmp_path, settings)
    assert any(name.startswith("bag ") and name.endswith("bag-info.txt") for name in texts)
    for name, text in texts.items():
        for forbidden in ("file://", "s3://", str(data), str(batch), "/store/"):
            assert forbidden not in text, (name, forbidden)
    links = set()
    for text in texts.values():
        links |= {url.rstrip(".,;:)") for url in re.findall(r"https?://[^\s<>\"']+", text) if url.startswith(base)}
    assert {f"{base}/items/{LIBRARY}/OPEN-1", f"{base}/iiif/{LIBRARY}/OPEN-1/manifest.json",
            f"{base}/items/{LIBRARY}/OPEN-1/files/OPEN-1.pdf", f"{base}/libraries/{LIBRARY}"} <= links
    http = client(base, "anonymous")
    for url in sorted(links):
        path = urlsplit(url)
        answer = http.get(path.path + (f"?{path.query}" if path.query else ""))
        assert answer.status_code == 200, (url, answer.status_code)
    # and no published record is refused for want of the public address: without one, nothing is published
    for command in (["dataset", LIBRARY], ["union-catalogue", LIBRARY, "--out", str(tmp_path / "u.xml")],
                    ["export", "--to", str(tmp_path / "b"), "--public"]):
        refused = run_cli(*command, **{k: v for k, v in settings.items() if k != "public_url"})
        assert refused.returncode == 78 and "DIGITIZE_PUBLIC_URL" in refused.stderr, refused.stderr
    unset = run_cli("web", "--port", str(free_port()), **{k: v for k, v in settings.items() if k != "public_url"})
    assert unset.returncode == 78 and "DIGITIZE_PUBLIC_URL" in unset.stderr


def test_manifests_name_every_page_in_order_with_its_size_and_han_nom_reads_right_to_left(service):
    from PIL import Image

    from test_manifest import prezi3_problems

    base, data, _, _ = service
    http = client(base, "anonymous")
    manifests = {}
    for item_id in ("OPEN-1", HAN):
        manifests[item_id] = http.get(f"/iiif/{LIBRARY}/{item_id}/manifest.json").json()
        canvases = manifests[item_id]["items"]
        images = sorted((data / "store" / LIBRARY / item_id / "images").glob("*.jpg"))
        assert len(canvases) == len(images) == len(ITEMS.get(item_id, (0, 0, [1]))[2])
        for number, (canvas, image) in enumerate(zip(canvases, images), start=1):
            with Image.open(image) as shown:
                assert (canvas["width"], canvas["height"]) == shown.size
            assert canvas["label"]["vi"] == [f"Trang {number}"]
            info = http.get(f"/iiif/{LIBRARY}/{item_id}/{number}/info.json").json()
            assert (info["width"], info["height"]) == shown.size
    assert manifests[HAN]["viewingDirection"] == "right-to-left"
    assert manifests["OPEN-1"]["viewingDirection"] == "left-to-right"
    assert prezi3_problems(manifests) == {item_id: [] for item_id in manifests}




def viewer_picture(page, name: str):
    """The viewer's area as the reader sees it (kept in test-artifacts/), once its page image is
    drawn: its pixels' standard deviation (a blank or grey canvas has almost none)."""
    from PIL import Image, ImageStat

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"viewer-{name}.png"
    deadline = 30
    for _ in range(deadline * 2):
        page.locator("#viewer canvas").first.screenshot(path=str(path))
        with Image.open(path) as shot:
            spread = max(ImageStat.Stat(shot.convert("L")).stddev)
        if spread > 20:
            return path, spread
        page.wait_for_timeout(500)
    raise AssertionError(f"the viewer's canvas stayed blank ({spread:.1f}): {path}")


@pytest.mark.parametrize("device,viewport", [("desktop", {"width": 1280, "height": 900}),
                                             ("phone", {"width": 390, "height": 844})])
def test_the_viewer_shows_page_1_then_page_2_and_the_pdf_downloads_whole(service, browser, device, viewport):
    base, data, _, _ = service
    context = browser.new_context(viewport=viewport, accept_downloads=True, is_mobile=device == "phone",
                                  has_touch=device == "phone")
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{base}/items/{LIBRARY}/OPEN-1")
    first, spread = viewer_picture(page, f"{device}-page-1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    box = page.locator("#viewer").bounding_box()
    assert box["width"] >= viewport["width"] * 0.85 and box["height"] >= 400  # the viewer fills the width
    page.screenshot(path=str(ARTIFACTS / f"item-page-{device}.png"), full_page=True)
    page.locator(".mirador-next-canvas-button").first.click()
    page.wait_for_function("() => performance.getEntriesByType('resource').some("
                           f"e => e.name.includes('/iiif/{LIBRARY}/OPEN-1/2/'))", timeout=30_000)
    second, _ = viewer_picture(page, f"{device}-page-2")
    assert second.read_bytes() != first.read_bytes()
    assert any(f"/iiif/{LIBRARY}/OPEN-1/2/" in url for url in asked)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with page.expect_download() as started:
        page.locator("#pdf-link").click()
    download = started.value
    stored = json.loads((data / "store" / LIBRARY / "OPEN-1" / "stored.json").read_text())["objects"]["OPEN-1.pdf"]
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == stored["sha256"]
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    context.close()


def test_every_manifest_of_the_sample_batch_names_its_pages_in_order_with_their_sizes(sample_run, tmp_path):
    from PIL import Image

    from test_manifest import prezi3_problems

    out, done, _ = sample_run
    assert done.returncode == 0, done.stdout + done.stderr
    data = out.parent  # (the sample run's store and ledger are beside its output)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_cli(tmp_path / "web.log", "web", "--port", str(port), data=str(data), public_url=base)
    try:
        wait_until_answers(base + "/", 60, process=server, log=tmp_path / "web.log")
        manifests = {}
        for item_id, pages in sample_manifest().items():
            manifests[item_id] = httpx.get(f"{base}/iiif/HD-TV/{item_id}/manifest.json").json()
            canvases = manifests[item_id]["items"]
            assert [c["label"]["vi"] for c in canvases] == [[f"Trang {p['page']}"] for p in pages]
            for canvas, page in zip(canvases, pages):
                with Image.open(data / "store" / "HD-TV" / item_id / "images" / f"{page['page']:04d}.jpg") as shown:
                    assert (canvas["width"], canvas["height"]) == shown.size
                painted = canvas["items"][0]["items"][0]["body"]
                assert painted["id"].startswith(f"{base}/iiif/HD-TV/{item_id}/{page['page']}/")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert prezi3_problems(manifests) == {item_id: [] for item_id in manifests}


def test_search_inside_an_item_answers_iiif_content_search_with_the_words_boxes(service):
    from digitize.access.iiif.content_search import words
    from digitize.core.vietnamese import fold

    base, data, _, _ = service
    alto = (data / "store" / LIBRARY / "OPEN-1" / "alto" / "0001.xml").read_bytes()
    printed = [w for w in words(alto) if len(w.text) >= 4 and w.text.isalpha() and fold(w.text) != w.text.lower()]
    word = printed[len(printed) // 2]  # a word with diacritics from the middle of page 1
    asked = fold(word.text)  # typed without them, as readers do
    answer = client(base, "anonymous").get(f"/iiif/{LIBRARY}/OPEN-1/search", params={"q": asked}).json()
    assert answer["@type"] == "sc:AnnotationList" and answer["within"]["total"] >= 1
    canvas = f"{base}/iiif/{LIBRARY}/OPEN-1/canvas/1"
    boxes = {a["on"] for a in answer["resources"] if a["resource"]["chars"] == word.text}
    # the ALTO's page is the canvas (the access image), so the box is the word's own
    assert f"{canvas}#xywh={round(word.hpos)},{round(word.vpos)},{round(word.width)},{round(word.height)}" in boxes
    manifest = client(base, "anonymous").get(f"/iiif/{LIBRARY}/OPEN-1/manifest.json").json()
    assert manifest["service"][0]["@id"] == f"{base}/iiif/{LIBRARY}/OPEN-1/search"

    for who, status in (("anonymous", 404), ("reading room", 200)):  # as every route of a restricted item
        assert client(base, who).get(f"/iiif/{LIBRARY}/RESTR-1/search", params={"q": "a"}).status_code == status
    secret = client(base, "staff").get(f"/iiif/{LIBRARY}/SECRET-1/search", params={"q": "a"})
    missing = client(base, "staff").get(f"/iiif/{LIBRARY}/NO-SUCH-1/search", params={"q": "a"})
    assert secret.status_code == missing.status_code == 404 and secret.content == missing.content


SEARCH_HIGHLIGHTS = """() => {
  // the pixels of Mirador's search boxes: translucent fills of its highlight colours (selected hit
  // #ffff00, the others #00BFFF, hovered #00FFFF), on the canvas it draws annotations on
  const colours = [[255, 255, 0], [0, 191, 255], [0, 255, 255]];
  let found = 0;
  for (const canvas of document.querySelectorAll('#viewer canvas')) {
    let context = null;
    try { context = canvas.width && canvas.height ? canvas.getContext('2d') : null; } catch (e) { context = null; }
    if (!context) continue;
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0 || data[i + 3] === 255) continue;
      if (colours.some(c => Math.abs(data[i] - c[0]) < 40 && Math.abs(data[i + 1] - c[1]) < 40
                            && Math.abs(data[i + 2] - c[2]) < 40)) found++;
    }
  }
  return found;
}"""


def only_on_page_2(data: Path) -> str:
    """A word with diacritics printed on page 2 of OPEN-1 and not on page 1 (folded)."""
    from digitize.access.iiif.content_search import words
    from digitize.core.vietnamese import fold

    alto = data / "store" / LIBRARY / "OPEN-1" / "alto"
    first = {fold(w.text) for w in words((alto / "0001.xml").read_bytes())}
    second = [w.text for w in words((alto / "0002.xml").read_bytes())
              if len(w.text) >= 5 and w.text.isalpha() and fold(w.text) != w.text.lower() and fold(w.text) not in first]
    assert second, "page 2 has no word of its own"
    return second[len(second) // 2]


def test_searching_inside_an_item_lists_its_hit_pages_without_javascript(service):
    from digitize.core.vietnamese import fold

    base, data, _, _ = service
    word = only_on_page_2(data)
    asked = fold(word)  # typed without diacritics
    http = client(base, "anonymous")
    answer = http.get(f"/iiif/{LIBRARY}/OPEN-1/search", params={"q": asked}).json()
    hits = answer["within"]["total"]
    assert hits >= 1 and all(a["on"].startswith(f"{base}/iiif/{LIBRARY}/OPEN-1/canvas/2#") for a in answer["resources"])
    page = http.get(f"/items/{LIBRARY}/OPEN-1", params={"q": asked})
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert f'<form class="search-form item-search" id="item-search" role="search" method="get" ' \
           f'action="{base}/items/{LIBRARY}/OPEN-1">' in html and "Tìm trong tài liệu này" in html
    assert f'name="q" type="search" value="{asked}"' in html
    assert f'data-canvas="2" data-query="{asked}"' in html  # opened at the first page with a hit
    listed = re.search(r'<section class="item-hits" id="item-hits">(.*?)</section>', html).group(1)
    assert f'<a href="{base}/items/{LIBRARY}/OPEN-1?q={asked}&amp;page=2#viewer">Trang 2 ({hits} kết quả)</a>' in listed
    assert f'href="{base}/iiif/{LIBRARY}/OPEN-1/2/full/max/0/default.jpg"' in listed and "Trang 1 (" not in listed
    assert http.get(f"{base}/iiif/{LIBRARY}/OPEN-1/2/full/max/0/default.jpg").status_code == 200
    english = http.get(f"/items/{LIBRARY}/OPEN-1", params={"q": asked, "lang": "en"}).text
    assert "Search this item" in english and f"Page 2 ({hits} hit{'s' if hits > 1 else ''})</a>" in english
    assert '<input type="hidden" name="lang" value="en">' in english
    assert 'data-canvas="1" data-query' in http.get(f"/items/{LIBRARY}/OPEN-1", params={"q": asked, "page": 1}).text
    nothing = http.get(f"/items/{LIBRARY}/OPEN-1", params={"q": "zzqxw"}).text
    assert "Không tìm thấy “zzqxw” trong tài liệu này." in nothing and 'data-canvas="1" data-query="zzqxw"' in nothing
    # the access tiers of the item page hold with a query: a restricted item shows its record outside
    # the reading room (no search inside it, no hits), a secret one is missing everywhere
    restricted = http.get(f"/items/{LIBRARY}/RESTR-1", params={"q": "a"})
    assert restricted.status_code == 200 and 'id="restricted-notice"' in restricted.text
    assert 'id="item-hits"' not in restricted.text and 'id="item-search"' not in restricted.text
    assert client(base, "reading room").get(f"/items/{LIBRARY}/RESTR-1", params={"q": "a"}).status_code == 200
    secret = client(base, "staff").get(f"/items/{LIBRARY}/SECRET-1", params={"q": "a"})
    assert secret.status_code == 404 and SECRET_TITLE not in secret.text


def test_the_viewer_opens_with_the_search_panel_listing_the_hits_and_their_boxes_drawn(service, browser, tmp_path):
    from urllib.parse import urlencode

    from PIL import Image, ImageChops
    from playwright.sync_api import expect

    from digitize.core.vietnamese import fold

    base, data, _, _ = service
    word = only_on_page_2(data)
    asked = fold(word)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems, failures, searches = [], [], []
    page.on("console", lambda message: problems.append((message.location.get("url", ""), message.text))
            if message.type == "error" else None)
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("request", lambda request: searches.append(request.url) if "/OPEN-1/search" in request.url else None)
    page.goto(f"{base}/items/{LIBRARY}/OPEN-1?{urlencode({'q': asked})}")
    panel = page.locator(".mirador-companion-window-left")
    hits = panel.locator("[class*='SearchHit-root']")  # (the selected hit a <li>, the others buttons)
    answer = client(base, "anonymous").get(f"/iiif/{LIBRARY}/OPEN-1/search", params={"q": asked}).json()
    total = answer["within"]["total"]
    assert total >= 1
    expect(hits).to_have_count(total, timeout=30_000)  # every hit listed
    assert panel.locator("input").first.input_value() == asked and asked in fold(hits.first.inner_text())
    assert "Trang 2" in hits.first.inner_text()  # the hit's page
    page.wait_for_function(SEARCH_HIGHLIGHTS, timeout=30_000)  # its boxes are drawn
    drawn, _ = viewer_picture(page, "search-hits-page")  # (once the page image is there)
    assert "Trang 2" in page.locator(".mirador-osd-info").inner_text()  # opened at the page with the hits
    page.locator("#viewer").screenshot(path=str(ARTIFACTS / "viewer-search-hits.png"))
    # the same view without Mirador's annotation canvas: the boxes are where the pixels changed, tinted
    # with the highlight colours (yellow takes blue away, light blue takes red away)
    page.evaluate("() => document.querySelectorAll('#viewer canvas').forEach("
                  "(c, i) => { if (i > 0) c.style.visibility = 'hidden'; })")
    bare = tmp_path / "bare.png"
    page.locator("#viewer canvas").first.screenshot(path=str(bare))
    with Image.open(drawn) as shot, Image.open(bare) as plain:
        shot, plain = shot.convert("RGB"), plain.convert("RGB")
        box = ImageChops.difference(shot, plain).convert("L").point(lambda v: 255 if v > 12 else 0).getbbox()
        assert box is not None, "no highlight drawn"
        with_boxes, without = shot.crop(box).tobytes(), plain.crop(box).tobytes()
        changed = [(with_boxes[i:i + 3], without[i:i + 3]) for i in range(0, len(with_boxes), 3)
                   if max(abs(x - y) for x, y in zip(with_boxes[i:i + 3], without[i:i + 3])) > 12]
    assert len(changed) >= 20
    tinted = [a for a, b in changed if (a[2] - b[2]) * (a[0] - b[0]) <= 0 and (a[2] < b[2] or a[0] < b[0])]
    assert len(tinted) >= 0.9 * len(changed), (len(tinted), len(changed))
    assert len(searches) == 1, searches  # asked once (Mirador's own panel asks again: not dispatched)
    # ?page=N opens the viewer at page N
    page.goto(f"{base}/items/{LIBRARY}/OPEN-1?page=2")
    page.wait_for_function("() => performance.getEntriesByType('resource').some(e => e.name.includes("
                           f"'/iiif/{LIBRARY}/OPEN-1/2/') && !e.name.includes('/full/200,/') "
                           "&& !e.name.includes('/full/,120/'))", timeout=30_000)  # its image, not a thumbnail
    page.locator(".mirador-osd-info").wait_for(timeout=30_000)
    assert "Trang 2" in page.locator(".mirador-osd-info").inner_text()
    assert not page.locator(".mirador-companion-window-left form").count()  # no query: no search panel
    assert not failures, failures
    known = [(where, text) for where, text in problems if where.endswith("/favicon.ico")  # (Mirador 4.0.0's own,
             or text.startswith("Accessing element.ref was removed in React 19")]  # also without a search)
    assert [p for p in problems if p not in known] == [], problems
    context.close()


def search_answers(http: httpx.Client, query: str, **parameters: str) -> tuple[str, dict]:
    """The collection search's HTML (its main part, the query's echo taken out) and JSON answers."""
    page = http.get("/search", params={"q": query, **parameters})
    asked = http.get("/search", params={"q": query, **parameters}, headers={"accept": "application/json"})
    assert page.status_code == asked.status_code == 200 and asked.headers["content-type"] == "application/json"
    answer = asked.json()
    assert answer.pop("query") == query
    html = page.text[page.text.index("<main"):page.text.index("</main>")]  # (the header links back to the page)
    return html.replace(escape_html(query), "QUERY"), answer


def test_search_finds_open_items_for_everyone_restricted_ones_in_the_reading_room_and_secret_ones_never(service):
    base, data, _, _ = service
    out = data / "out" / LIBRARY
    known = set().union(*(words(Path(module.__file__)) for module in (site, labels, dublincore, manifest)),
                        *(words(po) for po in pages.LOCALE.glob("*/LC_MESSAGES/digitize.po")))
    others = set().union(*(words(out / item_id / f"{item_id}.txt") for item_id in ("OPEN-1", "RESTR-1", HAN)))
    folded_elsewhere = {search.fold(word) for word in others | known}  # (a search matches folded forms)
    secret_words = sorted(w for w in words(out / "SECRET-1" / "SECRET-1.txt") if search.fold(w) not in folded_elsewhere)
    shared = sorted(words(out / "SECRET-1" / "SECRET-1.txt") & words(out / "OPEN-1" / "OPEN-1.txt"))
    assert len(secret_words) > 5 and shared
    nothing = None
    # (its title finds the restricted item's record outside the reading room too)
    for who, expected in (("anonymous", {"OPEN-1", "RESTR-1"}), ("reading room", {"OPEN-1", "RESTR-1"}),
                          ("staff", {"OPEN-1", "RESTR-1"})):
        http = client(base, who)
        # "Quỳnh Côi" is in the titles of the open, the restricted and the secret item
        html, answer = search_answers(http, "quynh coi")
        assert {hit["itemId"] for hit in answer["hits"]} == expected and answer["total"] == len(expected)
        assert answer["facets"] == {"library": {LIBRARY: len(expected)}, "category": {"dia_chi": len(expected)},
                                    "language": {"vie": len(expected)}}
        assert re.search(rf'id="total">{len(expected)} kết quả<', html)
        assert html.count('class="hit"') == len(expected) and ("RESTR-1" in html) == ("RESTR-1" in expected)
        everything = html + json.dumps(answer, ensure_ascii=False)
        for hidden in ("SECRET-1", SECRET_TITLE, "mật"):
            assert hidden not in everything, (who, hidden)
        # a page of the secret item holds the word too: never its hit, its snippet or its count
        for word in shared[:5]:
            html, answer = search_answers(http, word)
            assert "SECRET-1" not in {hit["itemId"] for hit in answer["hits"]}
            shown = html + json.dumps(answer, ensure_ascii=False)
            assert not set(secret_words) & set(re.findall(r"\w{4,}", shown)), (who, word)
        # the secret item's own words: answered exactly as a word no item holds
        nothing = nothing or search_answers(http, "xyzzyq")
        for word in secret_words[:8]:
            html, answer = search_answers(http, word)
            assert answer == nothing[1] and answer["total"] == 0 and answer["facets"] == search.empty_facets()
            assert html == nothing[0], (who, word)
            inside = http.get(f"/iiif/{LIBRARY}/OPEN-1/search", params={"q": word}).json()
            assert inside["resources"] == [] and inside["within"]["total"] == 0
        nothing = None  # (the page shows who is signed in)
    public = client(base, "anonymous").get("/search", params={"q": "quynh coi"},
                                           headers={"accept": "application/json"})
    room = client(base, "reading room").get("/search", params={"q": "quynh coi"},
                                            headers={"accept": "application/json"})
    assert public.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in room.headers and room.headers["cache-control"] == "private, no-store"


def test_the_search_page_works_without_javascript_with_filters_paging_and_links_to_the_page_hit(service):
    base, data, _, _ = service
    out = data / "out" / LIBRARY
    elsewhere = set().union(*(words(path) for path in out.glob("*/text/*.txt") if path != out / "OPEN-1/text/0002.txt"))
    word = next(w for w in sorted(words(out / "OPEN-1" / "text" / "0002.txt") - elsewhere)
                if search.fold(w) != w.lower() and search.fold(w) not in {search.fold(o) for o in elsewhere})
    http = client(base, "anonymous")
    page = http.get("/search", params={"q": search.fold(word)})  # typed without its diacritics
    assert page.status_code == 200 and "<script" not in page.text
    assert 'name="q"' in page.text and 'name="library"' in page.text and 'name="from"' in page.text
    assert re.search(r'id="total">1 kết quả<', page.text) and f"<mark>{word}</mark>" in page.text
    hit = re.search(r'<li class="hit"><a href="([^"]+)"', page.text)
    target = html_unescape(hit.group(1))
    assert target == f"{base}/items/{LIBRARY}/OPEN-1?page=2&q={quote_plus(search.fold(word))}"
    opened = http.get(target)
    assert opened.status_code == 200 and f'data-query="{search.fold(word)}"' in opened.text
    english = http.get("/search", params={"q": search.fold(word), "lang": "en"})
    assert re.search(r'id="total">1 result<', english.text) and '<html lang="en">' in english.text

    def total(**parameters) -> int:
        answer = http.get("/search", params={"q": "quynh coi", **parameters}, headers={"accept": "application/json"})
        return answer.json()["total"]

    assert total() == 2 and total(category="dia_chi") == 2 and total(category="rare") == 0  # (and RESTR-1's record)
    assert total(library=LIBRARY) == 2 and total(library="OTHER") == 0 and total(language="fra") == 0
    assert total(access="online") == 1 and total(access="library") == 1
    assert total(**{"from": "1900"}) == 0  # the items give no year: a year filter leaves them out
    for bad in ({"from": "x"}, {"page": "0"}, {"to": "12345"}):
        assert http.get("/search", params={"q": "a", **bad}).status_code == 400
    empty = http.get("/search")
    assert empty.status_code == 200 and 'class="hit"' not in empty.text and 'name="q"' in empty.text
