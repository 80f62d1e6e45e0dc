#!/usr/bin/env python3
"""The item page as a reader's phone loads it: bytes transferred and the time until the viewer has
drawn the first page image, in headless Chromium under DevTools' network emulation.

Run: .venv/bin/python bench/item_page.py [--runs 3] [--profiles none,fast-4g,slow-4g]

The stored test items (tests/data/stored: two items of library HD-TV, as the pipeline stored
them) are put in a ledger and served by the public app (uvicorn on 127.0.0.1, one process). For
each network profile, each run opens the item page HD-DC-0001 at 390 x 844 in a new browser
context with the cache disabled (a first visit), throttled through the DevTools protocol
(Network.emulateNetworkConditions), and waits until OpenSeadragon, inside Mirador, has drawn the
first page image whole. It prints, per profile, the bytes transferred (as sent on the wire: what
Network.loadingFinished counts, headers included) split into page images (the IIIF Image API's
JPEGs: the page and its thumbnails) and everything else (HTML, scripts, styles, manifest,
info.json), the number of requests, and the median time from the navigation's start to the first
page image drawn. Targets (issue 27): everything but page images at most 800 KB; the first image
drawn in under 6 s on fast 4G.

The profiles are DevTools' own presets (front_end/core/sdk/NetworkManager.ts, Chrome 120+: the
latency multiplied by 2.75 and 3.75, the throughput by 0.9, as DevTools does):
fast 4G 9 Mbit/s down, 1.5 Mbit/s up, 165 ms; slow 4G 1.6 Mbit/s down, 0.75 Mbit/s up, 562.5 ms;
"none" is unthrottled: the time the browser and the server take themselves (on a busy machine,
most of it is parsing and running Mirador's 2.3 MB of script).

To compare with another version of the code, put its src/ first: PYTHONPATH=/path/to/src.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

PROFILES = {
    "none": {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},  # the browser's and server's own time
    "fast-4g": {"latency": 165.0, "downloadThroughput": 9_000_000 / 8 * 0.9, "uploadThroughput": 1_500_000 / 8 * 0.9},
    "slow-4g": {"latency": 562.5, "downloadThroughput": 1_600_000 / 8 * 0.9, "uploadThroughput": 750_000 / 8 * 0.9},
}
PHONE = {"width": 390, "height": 844}
PAGE_IMAGE = re.compile(r"/iiif/[^/]+/[^/]+/\d+/[^/]+/[^/]+/[^/]+/[^/]+\.(jpg|png|webp)$")
LIMIT = 800_000
FIRST_IMAGE_LIMIT = 6.0  # seconds on fast 4G

# Whether the first page image is drawn whole: the time since the navigation started (ms), or null.
DRAWN = """() => {
  const reference = window.Mirador && Mirador.OSDReferences && Mirador.OSDReferences.get('book');
  const viewer = reference && reference.current;
  const image = viewer && viewer.world.getItemCount() ? viewer.world.getItemAt(0) : null;
  return image && image.getFullyLoaded() ? performance.now() : null;
}"""


def serve(root: Path):
    """The public app on the stored test items, in a thread: (base URL, server)."""
    import uvicorn
    from sqlalchemy.orm import Session

    from conftest import free_port, wait_for
    from digitize.core.links import PublicLinks
    from digitize.ledger import database as ledger
    from digitize.web.app import create_app
    from test_editor import KEY, stored_ledger

    store, url = stored_ledger(root, users=False)
    engine = ledger.open_ledger(url).get_bind()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(lambda: Session(engine), {}, store_url=store.root.as_uri(), secret_key=KEY,
                     links=PublicLinks(base))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: server.started, 60, "uvicorn to start")
    return base, server


def one_visit(browser, url: str, conditions: dict) -> dict:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", {"offline": False, **conditions})
    urls: dict[str, str] = {}
    sizes: dict[str, float] = {}
    cdp.on("Network.requestWillBeSent", lambda event: urls.__setitem__(event["requestId"], event["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
    page.goto(url, wait_until="commit")
    drawn = page.wait_for_function(DRAWN, timeout=300_000, polling=50).json_value()
    page.wait_for_timeout(500)  # (what the first image's drawing asked for finishes arriving)
    images = sum(size for request, size in sizes.items() if PAGE_IMAGE.search(urls.get(request, "").split("?")[0]))
    context.close()
    return {"first_image_s": drawn / 1000, "page_images": images, "other": sum(sizes.values()) - images,
            "requests": len(sizes)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profiles", default="none,fast-4g,slow-4g")
    parser.add_argument("--json", action="store_true", help="print the results as JSON as well")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM

    import digitize
    print(f"code: {Path(digitize.__file__).parent}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="item-page-bench-") as folder:
        base, server = serve(Path(folder))
        url = f"{base}/items/HD-TV/HD-DC-0001"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            one_visit(browser, url, PROFILES["none"])  # (the server's first answers made)
            for name in options.profiles.split(","):
                visits = [one_visit(browser, url, PROFILES[name]) for _ in range(options.runs)]
                results[name] = {key: statistics.median(v[key] for v in visits) for key in visits[0]}
            browser.close()
        server.should_exit = True
    print(f"{'profile':<9} {'all but page images':>20} {'page images':>12} {'requests':>9} {'first image drawn':>18}")
    for name, result in results.items():
        print(f"{name:<9} {result['other'] / 1000:>17.0f} KB {result['page_images'] / 1000:>9.0f} KB "
              f"{result['requests']:>9.0f} {result['first_image_s']:>16.2f} s")
    fast = results.get("fast-4g")
    if fast:
        print(f"targets: all but page images ≤ {LIMIT // 1000} KB: {'met' if fast['other'] <= LIMIT else 'NOT met'}; "
              f"first image on fast 4G < {FIRST_IMAGE_LIMIT:.0f} s: "
              f"{'met' if fast['first_image_s'] < FIRST_IMAGE_LIMIT else 'NOT met'}")
    if options.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
