#!/usr/bin/env python3
"""One `digitize web` process under many distinct upscaled IIIF renders at once (issue 25).

Run: .venv/bin/python bench/iiif_load.py [--renders 16] [--width 2800] [--keep]

A 300 dpi A4 page (bench/web.py's: 2480 x 3507, tinted) is digitized as the open one-page item
BENCH/WEB-1 with `digitize run`, and `digitize web` (one process) serves it. After a warm-up (the
home page, the page's info.json and one render), --renders clients each ask a distinct upscaled
render at once (`/full/^W,/0/default.png`, W = --width, --width + 1, ...) while the home page is
asked again and again. Prints the answers' status codes, the server process's RSS before, its peak
(sampled every 20 ms, and the kernel's VmHWM) and after the load (1 s later), the slowest and the
median home page time meanwhile, and the wall time of the load. Targets (issue 25): peak under
1 GB, home page under 1 s. It prints numbers; it is not a test.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web import BIN, ITEM, LIBRARY, BenchError, clean_env, free_port, make_item, status_kib  # noqa: E402


def wait_ready(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"`digitize web` ended with {server.returncode} before answering")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer within {seconds} s")


def load(base: str, pid: int, renders: int, width: int) -> dict:
    image = f"{base}/iiif/{LIBRARY}/{ITEM}/1"
    with httpx.Client(timeout=120) as http:
        http.get(base + "/")
        http.get(f"{image}/info.json")
        http.get(f"{image}/full/^{width - 1},/0/default.png")  # the page decoded once, as after any first visit
    time.sleep(1)
    before = status_kib(pid, "VmRSS")
    samples, homes, done = [before], [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(status_kib(pid, "VmRSS"))
            time.sleep(0.02)

    def home_pages():
        with httpx.Client(timeout=60) as http:
            while not done.is_set():
                started = time.perf_counter()
                http.get(base + "/")
                homes.append(time.perf_counter() - started)
                time.sleep(0.1)

    def render(n: int) -> tuple[int, float]:
        started = time.perf_counter()
        answer = httpx.get(f"{image}/full/^{width + n},/0/default.png", timeout=300)
        return answer.status_code, time.perf_counter() - started

    threads = [threading.Thread(target=sample), threading.Thread(target=home_pages)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(renders) as pool:
        answers = list(pool.map(render, range(renders)))
    wall = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    time.sleep(1)
    return {"answers": answers, "wall": wall, "before": before, "peak": max(samples), "hwm": status_kib(pid, "VmHWM"),
            "after": status_kib(pid, "VmRSS"), "homes": homes}


def report(numbers: dict, renders: int, width: int) -> None:
    codes: dict[int, int] = {}
    for code, _ in numbers["answers"]:
        codes[code] = codes.get(code, 0) + 1
    made = [seconds for code, seconds in numbers["answers"] if code == 200]
    homes = numbers["homes"] or [float("nan")]
    mib = lambda kib: f"{kib / 1024:.0f} MiB"  # noqa: E731
    print(f"{renders} distinct renders of /full/^{width}+n,/0/default.png at once, in {numbers['wall']:.1f} s:")
    print("  answers: " + ", ".join(f"{n} x {code}" for code, n in sorted(codes.items())))
    if made:
        print(f"  made: slowest {max(made):.2f} s, median {statistics.median(made):.2f} s")
    print(f"  server RSS: before {mib(numbers['before'])}, peak {mib(numbers['peak'])} "
          f"(VmHWM {mib(numbers['hwm'])}), after {mib(numbers['after'])}")
    print(f"  home page meanwhile: {len(numbers['homes'])} answers, slowest {max(homes):.3f} s, "
          f"median {statistics.median(homes):.3f} s")
    print(f"  targets: peak under 1 GB: {'yes' if numbers['hwm'] < 1 << 20 else 'NO'}; "
          f"home page under 1 s: {'yes' if max(homes) < 1 else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--renders", type=int, default=16)
    parser.add_argument("--width", type=int, default=2800)
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    a = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="iiif-load-"))
    server = None
    try:
        data = work / "data"
        print(f"work in {work}; digitizing one A4 page (`digitize run`)", flush=True)
        make_item(work, data, 1)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (work / "web.log").open("w")
        server = subprocess.Popen([str(BIN / "digitize"), "web", "--port", str(port)], env=clean_env(data, port),
                                  stdout=log, stderr=subprocess.STDOUT)
        wait_ready(base + "/", server)
        report(load(base, server.pid, a.renders, a.width), a.renders, a.width)
        return 0
    except BenchError as exc:
        print(f"bench stopped: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
