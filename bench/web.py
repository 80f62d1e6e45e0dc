#!/usr/bin/env python3
"""The web app's IIIF service under load, against Debian's IIPImage server as the reference.

Run: .venv/bin/python bench/web.py [--seconds 60] [--clients 50] [--workers 2] [--keep]

One 300 dpi A4 page (rendered with scripts/vnpages.py, tinted to colour) is digitized as a
one-page open item with `digitize run`; `digitize web --workers N` serves it. The same page (the
stored access image, images/0001.jpg) is made a tiled pyramid TIFF with `vips tiffsave` and
served by IIPImage (iipsrv.fcgi, N processes) under lighttpd FastCGI. Both on 127.0.0.1, one
after the other. For each: a cold pass (right after the start, every distinct request once) and a
warm run (--seconds) of 50 clients, each on its own keep-alive connection, fetching info.json and
the 512 px tiles of the page at scale factors 1, 2, 4 and 8 (and, from our app only, the
manifest), the same tiles from both. The load comes from a separate process; its ceiling is
measured first against lighttpd serving a small static file. Prints requests, seconds, requests/s,
p50/p95 latency and errors per server and phase, the servers' peak memory (RSS of the process and
its children) and our warm image-request rate over IIPImage's. Any error is printed and makes the
exit status 1; a server or tool that is missing or not ready stops the bench with exit status 2.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
CORPUS = ROOT / "scripts" / "corpus" / "truyen-kieu-1866.txt"
IIPSRV = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
LIBRARY, ITEM = "BENCH", "WEB-1"
TILE = 512
SCALES = (1, 2, 4, 8)
TIMEOUT = 30.0  # seconds before one request counts as failed
PACKAGES = "apt-get install iipimage-server lighttpd libvips-tools"


class BenchError(Exception):
    """A setup failure: printed as one clear message, exit status 2."""


# ---------------------------------------------------------------- the requests

def tiles(width: int, height: int) -> list[str]:
    """IIIF `region/size/rotation/quality.format` of the 512 px tiles covering the page at each
    scale factor, as a viewer asks for them (edge tiles clipped to the page, width rounded up):
    the same strings are valid Image API 2 (IIPImage) and 3 (ours)."""
    out = []
    for scale in SCALES:
        step = TILE * scale
        for y in range(0, height, step):
            for x in range(0, width, step):
                w, h = min(step, width - x), min(step, height - y)
                out.append(f"{x},{y},{w},{h}/{math.ceil(w / scale)},/0/default.jpg")
    return out


def expected_size(tile: str) -> tuple[int, int]:
    """The pixel size a tile request asks for (height from the region's aspect ratio)."""
    region, size = tile.split("/")[:2]
    _, _, w, h = (int(v) for v in region.split(","))
    width = int(size.rstrip(","))
    return width, max(1, round(h * width / w))


# ---------------------------------------------------------------- the load generator (its own process)

async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, int, bool]:
    """One HTTP/1.1 exchange on an open connection: (status, body bytes, server closes)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = None, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    size = 0
    if chunked:
        while True:
            n = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if n == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            await reader.readexactly(n + 2)
            size += n
    elif length is not None:
        await reader.readexactly(length)
        size = length
    else:  # the body runs to the end of the connection
        size, close = len(await reader.read()), True
    return status, size, close


class Recorder:
    """Per kind of request: the latency of each answer, the answers that are errors (not 200, or
    empty) and the requests that got no answer (an exception: refused, reset, timed out)."""

    def __init__(self):
        self.latency: dict[str, list[float]] = {}
        self.bad: Counter = Counter()
        self.failed: Counter = Counter()
        self.errors: Counter = Counter()  # by what went wrong
        self.first_errors: list[str] = []

    def error(self, kind: str, what: str, path: str, answered: bool) -> None:
        (self.bad if answered else self.failed)[kind] += 1
        self.errors[what] += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(f"{what}: {path}")


async def client(host: str, port: int, schedule, rec: Recorder, clock: dict, connected: list) -> None:
    """One client: a keep-alive connection, one request at a time, taking (kind, path) from
    ``schedule`` until it ends or the clock's deadline passes. The connection is made before the
    clock starts; one that fails or is closed by the server is made again with the next request."""
    tail = f" HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    conn = None
    try:
        conn = await asyncio.open_connection(host, port)
    except OSError:
        pass  # counted with the first request, which connects again
    connected.append(1)
    await clock["go"].wait()
    deadline = clock["deadline"]
    for kind, path in schedule:
        started = time.perf_counter()
        if deadline is not None and started >= deadline:
            break
        try:
            async with asyncio.timeout(TIMEOUT):
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                status, size, close = await fetch(*conn, b"GET " + path.encode() + tail)
        except (OSError, EOFError, asyncio.LimitOverrunError, ValueError, IndexError, TimeoutError) as exc:
            rec.error(kind, type(exc).__name__, path, False)  # IncompleteReadError is an EOFError
            if conn is not None:
                conn[1].close()
            conn = None
            continue
        rec.latency.setdefault(kind, []).append(time.perf_counter() - started)
        if status != 200 or size == 0:
            rec.error(kind, f"HTTP {status}" if status != 200 else "empty body", path, True)
        if close:
            conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


def summary(latencies: list[float], failed: int, bad: int, seconds: float) -> dict:
    """Requests (answered or not), rate, p50/p95 latency in ms (nearest rank) of the answered ones,
    errors (answers that are errors and requests with no answer)."""
    ordered = sorted(latencies)
    pick = lambda q: ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000 if ordered else float("nan")  # noqa: E731
    n = len(ordered) + failed
    return {"requests": n, "seconds": seconds, "rate": n / seconds if seconds else 0.0,
            "p50": pick(0.50), "p95": pick(0.95), "errors": failed + bad}


def cold_schedule(queue: deque):
    while queue:
        yield queue.popleft()


def warm_schedule(spec: dict, i: int):
    """A reader's visits, over and over: ``spec["visit"]`` (manifest, info.json), then every tile
    in an order of this client's own (the same for both servers)."""
    order, tiles = random.Random(spec["seed"] + i), list(spec["tiles"])
    while True:
        yield from spec["visit"]
        order.shuffle(tiles)
        yield from tiles


async def load(spec: dict) -> dict:
    """One phase of load with ``spec["clients"]`` clients: "cold" takes each request of
    ``spec["once"]`` once (the clients share the list), "warm" runs for ``spec["seconds"]``."""
    rec, connected = Recorder(), []
    clock = {"go": asyncio.Event(), "deadline": None}
    queue = deque(tuple(r) for r in spec.get("once", []))
    tasks = [asyncio.create_task(client(spec["host"], spec["port"],
                                        cold_schedule(queue) if spec["phase"] == "cold" else warm_schedule(spec, i),
                                        rec, clock, connected))
             for i in range(spec["clients"])]
    while len(connected) < len(tasks):
        await asyncio.sleep(0.005)
    cpu, started = time.process_time(), time.perf_counter()
    if spec["phase"] != "cold":
        clock["deadline"] = started + spec["seconds"]
    clock["go"].set()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    out = {"seconds": seconds, "client_cpu": (time.process_time() - cpu) / seconds,
           "errors": dict(rec.errors), "first_errors": rec.first_errors}
    kinds = set(rec.latency) | set(rec.failed)
    groups = {"all": sorted(kinds), "image": ["info", "tile"], "manifest": ["manifest"], "info": ["info"],
              "tile": ["tile"], "static": ["static"]}
    for group, members in groups.items():
        members = [k for k in members if k in kinds]
        if members:
            out[group] = summary([x for k in members for x in rec.latency.get(k, [])],
                                 sum(rec.failed[k] for k in members), sum(rec.bad[k] for k in members), seconds)
    return out


def load_process(spec_file: Path) -> None:
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(load(spec))))


# ---------------------------------------------------------------- processes and their memory

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(cmd: list, env: dict | None = None, what: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{what or cmd[0]} failed (exit {done.returncode}):\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}".rstrip())
    return done


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc/PID/task/TID/children)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except OSError:
                pass
    return pids


def status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by the processes of the tree."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


class MemorySampler(threading.Thread):
    """The sum of VmRSS over a process tree every 100 ms; ``peak`` is the largest sum (bytes), and
    ``hwm`` the sum of each process's own peak (VmHWM) at the last sample: an upper bound."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.hwm, self.processes = root, 0, 0, 0
        self.hwms: dict[int, int] = {}
        self.halt = threading.Event()

    def sample(self) -> None:
        pids = process_tree(self.root)
        rss = sum(status_kib(pid, "VmRSS") for pid in pids) * 1024
        for pid in pids:
            self.hwms[pid] = max(self.hwms.get(pid, 0), status_kib(pid, "VmHWM") * 1024)
        self.peak, self.processes = max(self.peak, rss), max(self.processes, len(pids))
        self.hwm = sum(self.hwms.values())

    def run(self) -> None:
        while not self.halt.wait(0.1):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self.halt.set()
        self.join()


class Server:
    """A server process started in its own session (stopped through its process group), its
    output in ``log``, its memory sampled from the start."""

    def __init__(self, name: str, cmd: list, log: Path, port: int, env: dict | None = None):
        self.name, self.cmd, self.log, self.port, self.env = name, [str(c) for c in cmd], log, port, env
        self.proc: subprocess.Popen | None = None
        self.memory: MemorySampler | None = None

    def start(self) -> None:
        with open(self.log, "w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.memory = MemorySampler(self.proc.pid)
        self.memory.start()

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        except OSError:
            return ""

    def wait_ready(self, probe: str, timeout: float = 60.0) -> None:
        """Until the server answers ``probe`` (any HTTP status), then until its processes are idle
        (under 10 % of a core over half a second): workers still importing would count as cold."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} stopped at once (exit {self.proc.returncode}): "
                                 f"{' '.join(self.cmd)}\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{probe}", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.name} did not answer on port {self.port} within {timeout:.0f} s:"
                                     f"\n{self.log_tail()}") from None
                time.sleep(0.1)
        while time.monotonic() < deadline:
            before = tree_cpu(self.proc.pid)
            time.sleep(0.5)
            if tree_cpu(self.proc.pid) - before < 0.05:
                return

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.memory is not None:
            self.memory.stop()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:  # what the leader left behind (FastCGI children, server workers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_load(spec: dict, work: Path) -> dict:
    """A load phase in a process of its own (the client must not share the servers' process)."""
    spec_file = work / f"load-{time.monotonic_ns()}.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    done = subprocess.run([sys.executable, __file__, "--load", str(spec_file)], capture_output=True, text=True,
                          timeout=spec.get("seconds", 0) + 300)
    if done.returncode != 0:
        raise BenchError(f"the load process failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# ---------------------------------------------------------------- the page, the item, the pyramid

def clean_env(data: Path, port: int | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_"))}
    env.update(DIGITIZE_DATA=str(data), DIGITIZE_STORE=(data / "store").resolve().as_uri(),
               DIGITIZE_LEDGER=f"sqlite:///{(data / 'ledger.sqlite').resolve()}")
    if port is not None:
        env["DIGITIZE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


def make_item(work: Path, data: Path, workers: int) -> Path:
    """A 300 dpi A4 page (2480 x 3507) of Truyện Kiều, tinted like old paper, digitized as the open
    one-page item BENCH/WEB-1 with `digitize run`; returns its stored access image."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from PIL import Image
    from vnpages import render_pages

    item = work / "batch" / ITEM
    entry = render_pages(CORPUS, item, 1, seed=7, level="moderate", dpi=300, paper="A4", fmt="jpg",
                         skew=0.0, border=False)[0]
    (item / entry["gt"]).unlink()
    (item / "manifest.json").unlink()
    page = item / entry["image"]
    grey = Image.open(page).convert("L")
    tint = [grey.point(lambda v, f=f: round(v * f)) for f in (1.0, 0.94, 0.80)]  # yellowed paper, brown ink
    Image.merge("RGB", tint).save(page, "JPEG", quality=92, dpi=(300, 300))
    (item / "item.toml").write_text(f'id = "{ITEM}"\ntitle = "Trang thử tải"\nlibrary = "{LIBRARY}"\n'
                                    'access = "open"\n', encoding="utf-8")
    env = clean_env(data)
    register = work / "holdings.csv"
    register.write_text("call_number,title,category\nX.1,x,dia_chi\n", encoding="utf-8")
    run([BIN / "digitize", "holdings", "import", register, "--library", LIBRARY, "--name", "Thư viện thử tải",
         "--province", "hai-duong", "--tier", "provincial"], env, "digitize holdings import")
    run([BIN / "digitize", "run", work / "batch", "--out", data / "out", "--workers", workers], env, "digitize run")
    image = data / "store" / LIBRARY / ITEM / "images" / "0001.jpg"
    if not image.exists():
        raise BenchError(f"`digitize run` stored no access image at {image}")
    return image


def check_tools() -> None:
    missing = [package for package, present in (("iipimage-server", IIPSRV.exists()),
                                                 ("lighttpd", shutil.which("lighttpd")),
                                                 ("libvips-tools", shutil.which("vips"))) if not present]
    if missing:
        raise BenchError(f"the reference server needs Debian's {', '.join(missing)}: {PACKAGES}")


def make_pyramid(jpeg: Path, tiff: Path) -> None:
    """A tiled pyramid TIFF of the page: 512 px JPEG tiles (quality 85), levels halved down to
    under 512 px. Tiles of the size the bench asks for: IIPImage's best case."""
    run(["vips", "tiffsave", jpeg, tiff, "--tile", "--tile-width", TILE, "--tile-height", TILE, "--pyramid",
         "--compression", "jpeg", "--Q", "85"], what="vips tiffsave")


def lighttpd(folder: Path, port: int, www: Path, images: Path | None = None, procs: int = 1) -> Server:
    """lighttpd on 127.0.0.1:``port`` serving ``www``, and with ``images`` IIPImage at /iiif/
    (FastCGI, ``procs`` processes of iipsrv.fcgi started by lighttpd)."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = [f'server.document-root = "{www}"', 'server.bind = "127.0.0.1"', f"server.port = {port}",
            f'server.errorlog = "{folder}/error.log"', "server.max-keep-alive-requests = 65535",
            "server.max-keep-alive-idle = 60", 'server.modules += ("mod_fastcgi")']
    if images is not None:
        environment = {"FILESYSTEM_PREFIX": f"{images}/", "URI_MAP": "iiif=>IIIF", "JPEG_QUALITY": "85",
                       "MAX_IMAGE_CACHE_SIZE": "64", "MEMCACHED_SERVERS": "", "LOGFILE": f"{folder}/iipsrv.log",
                       "VERBOSITY": "1"}
        env = ",\n".join(f'    "{k}" => "{v}"' for k, v in environment.items())
        conf.append(f'fastcgi.server = ("/iiif" => ((\n  "socket" => "{folder}/iipsrv.sock",\n'
                    f'  "bin-path" => "{IIPSRV}",\n  "check-local" => "disable",\n  "max-procs" => {procs},\n'
                    f'  "bin-environment" => (\n{env}\n  )\n)))')
    (folder / "lighttpd.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
    return Server("IIPImage (lighttpd)" if images else "lighttpd", ["lighttpd", "-D", "-f", folder / "lighttpd.conf"],
                  folder / "lighttpd.out", port)


# ---------------------------------------------------------------- the runs

def check_answers(port: int, base: str, width: int, height: int) -> list[str]:
    """After the load: the server's info.json states the page's size, and three tiles (the first,
    the bottom right one at full resolution, the smallest level) decode to the size asked for (1 px
    of rounding allowed). Returns the problems found."""
    from PIL import Image

    problems = []
    get = lambda path: urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT).read()  # noqa: E731
    every = tiles(width, height)
    full = math.ceil(width / TILE) * math.ceil(height / TILE)
    try:
        info = json.loads(get(f"{base}/info.json"))
        if (info.get("width"), info.get("height")) != (width, height):
            problems.append(f"info.json states {info.get('width')} x {info.get('height')}, the page is "
                            f"{width} x {height}")
        for tile in (every[0], every[full - 1], every[-1]):
            got = Image.open(io.BytesIO(get(f"{base}/{tile}"))).size
            want = expected_size(tile)
            if abs(got[0] - want[0]) > 1 or abs(got[1] - want[1]) > 1:
                problems.append(f"{tile} is {got[0]} x {got[1]}, not {want[0]} x {want[1]}")
    except (OSError, ValueError) as exc:
        problems.append(f"checking the answers failed: {exc}")
    return problems


def measure(server: Server, probe: str, base: str, manifest: str | None, a, work: Path,
            width: int, height: int) -> dict:
    """Start ``server``, wait until it is ready and idle, a cold pass and a warm run, check a few
    answers, stop it. BenchError when it answers none of the cold pass's requests of a kind."""
    visit = ([("manifest", manifest)] if manifest else []) + [("info", f"{base}/info.json")]
    tile_requests = [("tile", f"{base}/{t}") for t in tiles(width, height)]
    spec = {"host": "127.0.0.1", "port": server.port, "clients": a.clients, "seed": 1}
    server.start()
    try:
        server.wait_ready(probe)
        print(f"{server.name}: cold pass ({len(visit) + len(tile_requests)} requests)", flush=True)
        cold = run_load({**spec, "phase": "cold", "once": visit + tile_requests}, work)
        for kind in ("manifest", "info", "tile"):
            if kind in cold and cold[kind]["errors"] == cold[kind]["requests"]:
                raise BenchError(f"{server.name} answered none of the cold pass's {kind} requests: "
                                 f"{'; '.join(cold['first_errors'])}\n{server.log_tail()}")
        print(f"{server.name}: warm run ({a.seconds:g} s)", flush=True)
        cpu, busy, clock = tree_cpu(server.proc.pid), machine_busy(), time.perf_counter()
        warm = run_load({**spec, "phase": "warm", "seconds": a.seconds, "visit": visit, "tiles": tile_requests},
                        work)
        clock = time.perf_counter() - clock
        warm["server_cpu"] = (tree_cpu(server.proc.pid) - cpu) / clock
        warm["other_cpu"] = max(0.0, (machine_busy() - busy) / clock - warm["server_cpu"] - warm["client_cpu"])
        problems = check_answers(server.port, base, width, height)
    finally:
        server.stop()
    memory = server.memory
    return {"cold": cold, "warm": warm, "peak": memory.peak, "hwm": memory.hwm, "processes": memory.processes,
            "problems": problems}


def ceiling(work: Path, a) -> dict:
    """The load generator alone: its rate against lighttpd serving a small static file."""
    www = work / "www"
    server = lighttpd(work / "static", free_port(), www)
    server.start()
    try:
        server.wait_ready("/static.json")
        print(f"client ceiling: {a.ceiling_seconds:g} s against lighttpd's static file", flush=True)
        result = run_load({"host": "127.0.0.1", "port": server.port, "clients": a.clients, "seed": 1,
                           "phase": "warm", "seconds": a.ceiling_seconds, "visit": [],
                           "tiles": [("static", "/static.json")]}, work)
    finally:
        server.stop()
    return result


def version(cmd: list) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def report(a, numbers: dict) -> int:
    """Print the table and the summary lines; 1 when any request failed or an answer was wrong."""
    print(f"\n{a.clients} clients, keep-alive, on 127.0.0.1; {a.workers} server processes each; "
          f"{os.cpu_count()} cores; page {numbers['page']}; {numbers['tiles']} tiles (512 px at scale "
          f"factors {', '.join(map(str, SCALES))}) + info.json, and our manifest")
    print(f"IIPImage {numbers['iipsrv']} under {numbers['lighttpd']}; pyramid TIFF made by {numbers['vips']}")
    header = f"{'server':<9} {'phase':<5} {'requests':<9} {'n':>7} {'seconds':>8} {'req/s':>8} {'p50 ms':>8} " \
             f"{'p95 ms':>8} {'errors':>7}"
    print("\n" + header)
    print("-" * len(header))
    loud = []
    rows = [("IIPImage", "iipimage", ("image",)), ("ours", "ours", ("all", "image", "manifest"))]
    for label, key, groups in rows:
        result = numbers.get(key)
        if not isinstance(result, dict):
            continue
        for phase in ("cold", "warm"):
            for group in groups:
                row = result[phase].get(group)
                if row is None:
                    continue
                name = {"all": "all", "image": "images", "manifest": "manifests"}[group]
                print(f"{label:<9} {phase:<5} {name:<9} {row['requests']:>7} {row['seconds']:>8.1f} "
                      f"{row['rate']:>8.1f} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['errors']:>7}")
            if result[phase]["errors"]:
                loud.append(f"{label} {phase}: {result[phase]['errors']} (first: "
                            f"{'; '.join(result[phase]['first_errors'])})")
        loud += [f"{label}: {p}" for p in result["problems"]]
    cap = numbers["ceiling"]
    print(f"\nclient alone (lighttpd, {numbers['static_bytes']}-byte static file): {cap['static']['rate']:.0f} req/s, "
          f"p50 {cap['static']['p50']:.1f} ms, p95 {cap['static']['p95']:.1f} ms, client CPU "
          f"{cap['client_cpu'] * 100:.0f} % of a core")
    if cap["errors"]:
        loud.append(f"client ceiling: {cap['errors']}")
    for label, key in (("ours", "ours"), ("IIPImage", "iipimage")):
        result = numbers.get(key)
        if isinstance(result, dict):
            what = "lighttpd + iipsrv" if key == "iipimage" else "digitize web and its children"
            print(f"{label} peak memory: {mib(result['peak'])} RSS ({what}, {result['processes']} processes, "
                  f"sampled every 100 ms; sum of each process's own peak {mib(result['hwm'])}); in the warm run "
                  f"the server used {result['warm']['server_cpu'] * 100:.0f} % of a core, the client "
                  f"{result['warm']['client_cpu'] * 100:.0f} %, other processes "
                  f"{result['warm']['other_cpu'] * 100:.0f} %")
            if result["warm"]["all"]["rate"] > cap["static"]["rate"] / 2:
                print(f"  NOTE: {label}'s warm rate is over half the client's ceiling: the client may limit it")
            if result["warm"]["other_cpu"] > 0.2:
                print(f"  NOTE: other processes took {result['warm']['other_cpu'] * 100:.0f} % of a core during "
                      f"the warm run of {label}: the machine was not idle; measure again on an idle one")
    ours, ref = numbers.get("ours"), numbers.get("iipimage")
    if isinstance(ours, dict) and isinstance(ref, dict):
        ratio = ours["warm"]["image"]["rate"] / ref["warm"]["image"]["rate"]
        numbers["ratio"] = ratio
        print(f"\nours / IIPImage, warm image requests (info.json + tiles) per second: {ratio:.2f}x "
              f"({ours['warm']['image']['rate']:.0f} / {ref['warm']['image']['rate']:.0f}; ours also answered "
              f"{ours['warm']['manifest']['rate']:.0f} manifests/s in the same run)")
    elif isinstance(ours, str):
        print(f"\nours: not measured: {ours}")
    if loud:
        print("\n!!! ERRORS: the run is not clean, its numbers do not count:")
        for line in loud:
            print(f"!!!   {line}")
        return 1
    return 0


def bench(a) -> int:
    check_tools()
    work = Path(tempfile.mkdtemp(prefix="digitize-web-bench-"))
    numbers: dict = {"clients": a.clients, "workers": a.workers, "seconds": a.seconds, "cores": os.cpu_count(),
                     "iipsrv": "iipsrv " + version(["dpkg-query", "-W", "-f", "${Version}", "iipimage-server"]),
                     "lighttpd": version(["lighttpd", "-v"]).split(" - ")[0], "vips": version(["vips", "--version"])}
    try:
        print(f"work in {work}; making the page and digitizing it (`digitize run`)", flush=True)
        data = work / "data"
        image = make_item(work, data, a.workers)
        from PIL import Image

        with Image.open(image) as im:
            width, height = im.size
            numbers["page"] = f"{width} x {height} {im.mode} JPEG, {image.stat().st_size >> 10} KiB"
        numbers["tiles"] = len(tiles(width, height))
        images = work / "iip" / "images"
        images.mkdir(parents=True)
        make_pyramid(image, images / "page.tif")
        www = work / "www"
        www.mkdir()
        static = json.dumps({"@context": "http://iiif.io/api/image/3/context.json", "padding": "x" * 600})
        (www / "static.json").write_text(static, encoding="utf-8")
        numbers["static_bytes"] = len(static)

        numbers["ceiling"] = ceiling(work, a)
        iip = lighttpd(work / "iip", free_port(), www, images, a.workers)
        numbers["iipimage"] = measure(iip, "/static.json", "/iiif/page.tif", None, a, work, width, height)
        port = free_port()
        command = a.web_command.split() if a.web_command else [BIN / "digitize", "web"]
        ours = Server("our web app", [*command, "--host", "127.0.0.1", "--port", port, "--workers", a.workers],
                      work / "web.out", port, clean_env(data, port))
        try:
            numbers["ours"] = measure(ours, "/", f"/iiif/{LIBRARY}/{ITEM}/1",
                                      f"/iiif/{LIBRARY}/{ITEM}/manifest.json", a, work, width, height)
        except BenchError as exc:
            numbers["ours"] = str(exc)
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    status = report(a, numbers)
    if a.json:
        a.json.write_text(json.dumps(numbers, indent=1, default=str), encoding="utf-8")
    if isinstance(numbers.get("ours"), str):
        return 2
    return status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60, help="length of each warm run [60]")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients, one connection each [50]")
    ap.add_argument("--workers", type=int, default=2,
                    help="our web workers, and as many iipsrv processes [2]")
    ap.add_argument("--ceiling-seconds", type=float, default=10, help="length of the client-alone run [10]")
    ap.add_argument("--web-command", help="serve our side with this command instead of .venv/bin/digitize web "
                    "(--host, --port and --workers are appended; a stand-in while developing)")
    ap.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data, configs)")
    ap.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # internal: run one load phase, print JSON
    a = ap.parse_args()
    if a.load:
        load_process(a.load)
        return
    try:
        sys.exit(bench(a))
    except BenchError as exc:
        print(f"\nbench/web.py stopped: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
