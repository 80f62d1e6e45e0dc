"""Issue 26's loop as staff live it, from a real run to the quota, in headless Chromium with the
keyboard alone: a batch with one page flagged is digitized and waits for review (the quota counts 0
accepted); a reviewer signs in, goes from the queue to the item and its page editor, corrects a
word by typing one with stacked diacritics, saves, and accepts the item. Then everything follows:
the ALTO keeps the OCR's reading as the alternative, the PDF's text layer and the search index have
the new word, the METS names the reviewer, the quota counts 1 accepted, and a run of the same item
with --new-version keeps the correction (and, its scans unchanged, stays accepted), as does a run
after a fix of its metadata."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest
from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from conftest import ARTIFACTS, MINI, invoke_cli, ledger_session, uvicorn_server

pytestmark = pytest.mark.slow

LIBRARY, ITEM = "HD-TV", "HD-DC-0001"
REVIEWER, PASSWORD = "lan.duyet", "mật khẩu đủ dài 2026"
KEY = b"k" * 32
NS = {"alto": "http://www.loc.gov/standards/alto/ns-v3#"}
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def nonsense_page(path) -> None:
    """A page of words that are no Vietnamese syllables: the run flags it for review."""
    image = Image.new("L", (1400, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 48)
    for row, words in enumerate(["Qwzx brtk plmn vvcx", "Zyxw kjhg frtz qplm", "Xqzt wkpr mnbv zzkq"]):
        draw.text((80, 120 + row * 150), words, font=font, fill=0)
    image.save(path, dpi=(300, 300))


def quota_row(data) -> list[str]:
    """HD-TV's địa chí row of `digitize quota`: ..., holdings, digitized, awaiting review, accepted, %."""
    shown = invoke_cli("quota", data=str(data))
    assert shown.returncode == 0, shown.stderr
    [row] = [line.split("\t") for line in shown.stdout.splitlines() if "\tHD-TV\t" in line and "dia_chi" in line]
    return row


@pytest.fixture(scope="module")
def digitized(tmp_path_factory):
    """The run of a batch whose item has two good pages and a flagged one, its library's register,
    a reviewer, and the reading service on its ledger and store: (root, base URL)."""
    from sqlalchemy.orm import Session

    from digitize.core.links import PublicLinks
    from digitize.core.settings import PACKAGED_PROFILES
    from digitize.ledger import accounts, holdings
    from digitize.ledger.plans import load_plans
    from digitize.web.app import create_app

    root = tmp_path_factory.mktemp("loop")
    batch = root / "batch"
    shutil.copytree(MINI / ITEM, batch / ITEM)
    nonsense_page(batch / ITEM / "0003.png")
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    with ledger_session(url) as session:  # the register first: the run counts the item against it
        library = holdings.ensure_library(session, LIBRARY, "Thư viện tỉnh Hải Dương", "hai-duong", "provincial")
        register = root / "register.csv"
        register.write_text("call_number,title,category\nĐC.2023.001,Kế hoạch chuyển đổi số,dia_chi\n", encoding="utf-8")
        holdings.import_file(session, register, library, PACKAGED_PROFILES)
        accounts.add_user(session, REVIEWER, PASSWORD, roles=["reviewer"])
    done = invoke_cli("run", str(batch), "--out", str(root / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "to review" in done.stdout  # page 3, as the run's summary says
    with ledger_session(url) as session:
        engine = session.get_bind()
        with uvicorn_server(for_base=lambda base: create_app(
                lambda: Session(engine), load_plans(PACKAGED_PROFILES), store_url=(root / "store").as_uri(),
                secret_key=KEY, links=PublicLinks(base))) as base:
            yield root, base


def tab_to(page, test: str, what: str, presses: int = 80) -> None:
    """Tab until the focused element passes ``test`` (a JavaScript expression on ``e``)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => !!e && ({test}))(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {what}")


def finds(base: str, words: str) -> bool:
    answer = httpx.get(f"{base}/search", params={"q": words}, timeout=30)
    assert answer.status_code == 200
    return f"/items/{LIBRARY}/{ITEM}" in answer.text


def stored(root, key: str) -> bytes:
    return (root / "store" / LIBRARY / ITEM / key).read_bytes()


def test_a_reviewer_corrects_and_accepts_with_the_keyboard_and_everything_follows(digitized, browser):
    root, base = digitized
    assert quota_row(root)[4:7] == ["1", "1", "0"]  # digitized 1, awaiting review 1, accepted 0
    assert finds(base, "ngày") and not finds(base, "Nguyễn")

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/staff/review")
    assert "/staff/login" in page.url
    page.focus("#name")
    page.keyboard.type(REVIEWER)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/staff/review")
    tab_to(page, f"e.tagName == 'A' && e.getAttribute('href').endsWith('/staff/review/{LIBRARY}/{ITEM}')", "the item")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/staff/review/{LIBRARY}/{ITEM}")
    assert page.locator("li.flagged").count() == 1 and "/pages/3" in page.locator("li.flagged a").get_attribute("href")
    tab_to(page, "e.tagName == 'A' && e.getAttribute('href').endsWith('/pages/1')", "page 1's editor")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/pages/1$"))
    tab_to(page, "e.tagName == 'INPUT' && e.value.includes('ngày')", "the line with 'ngày'")
    line = page.evaluate("document.activeElement.value")
    page.keyboard.press("End")
    for _ in range(len(line) - line.index("ngày")):
        page.keyboard.press("ArrowLeft")
    for _ in range(len("ngày")):
        page.keyboard.press("Delete")
    page.keyboard.type("Nguyễn")  # stacked diacritics, as an input method commits them
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#editor-status .saved")
    tab_to(page, "e.tagName == 'A' && e.closest('.crumbs')", "the item's link", presses=200)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/staff/review/{LIBRARY}/{ITEM}")
    tab_to(page, "e.id == 'accept'", "the accept button", presses=200)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*done=accepted.*"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-loop-accepted.png"), full_page=True)
    page.context.close()

    alto = etree.fromstring(stored(root, "alto/0001.xml"))
    [word] = alto.xpath("//alto:String[@CONTENT='Nguyễn']", namespaces=NS)
    assert word.get("CS") == "true"
    assert [(a.get("PURPOSE"), a.text) for a in word.findall("alto:ALTERNATIVE", NS)] == [("OCR", "ngày")]
    pdf = root / "new.pdf"
    pdf.write_bytes(stored(root, f"{ITEM}.pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Nguyễn" in text and "ngày" not in text
    assert finds(base, "nguyen") and not finds(base, "ngày")
    mets = stored(root, "mets.xml").decode("utf-8")
    assert f"accepted by {REVIEWER}" in mets and f"<premis:agentName>{REVIEWER}</premis:agentName>" in mets
    assert quota_row(root)[4:7] == ["1", "0", "1"]  # accepted: it counts

    again = invoke_cli("run", str(root / "batch"), "--out", str(root / "out"), "--new-version")
    assert again.returncode == 0, again.stdout + again.stderr
    kept = etree.fromstring(stored(root, "alto/0001.xml"))
    assert kept.xpath("//alto:String[@CONTENT='Nguyễn']/@CS", namespaces=NS) == ["true"]
    assert "Nguyễn" in stored(root, "text/0001.txt").decode("utf-8")
    assert quota_row(root)[4:7] == ["1", "0", "1"]  # the same scans: still the item the reviewer accepted

    toml = root / "batch" / ITEM / "item.toml"  # a metadata fix: the item described anew, its correction kept
    toml.write_text(toml.read_text(encoding="utf-8").replace("Kế hoạch chuyển đổi số", "Kế hoạch số hóa"),
                    encoding="utf-8")
    fixed = invoke_cli("run", str(root / "batch"), "--out", str(root / "out"))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Kế hoạch số hóa" in stored(root, "mets.xml").decode("utf-8")
    assert etree.fromstring(stored(root, "alto/0001.xml")).xpath(
        "//alto:String[@CONTENT='Nguyễn']/@CS", namespaces=NS) == ["true"]
    pdf.write_bytes(stored(root, f"{ITEM}.pdf"))
    assert "Nguyễn" in subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
