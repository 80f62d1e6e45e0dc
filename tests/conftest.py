from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_scans"
TRUTH = ROOT / "tests" / "data" / "sample_truth"
CORPUS = ROOT / "scripts" / "corpus"
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests
CHROMIUM = Path("/usr/bin/chromium")
STORED = ROOT / "tests" / "data" / "stored"  # small stored items (tests/data/make_stored_items.py)
# The sample items (same ids, item.toml and library) with tiny pages: a batch whose OCR takes a second,
# for the tests of what happens around the OCR (storage, flows, restarts, the index, the wheel)
MINI = STORED / "scans"
MINI_PAGES = 4  # HD-DC-0001: 0001.jpg, 0002.tif; HN-TK-0002: 0001.tif (two frames)
PREFECT = Path(sys.executable).parent / "prefect"
sys.path.insert(0, str(ROOT / "scripts"))

# The tests never touch the data of whoever runs them: the DIGITIZE_* settings of the calling shell
# (DIGITIZE_DATA, DIGITIZE_LEDGER, DIGITIZE_STORE...) are dropped before any test or command runs, so
# neither this process nor the commands it starts (cli_env copies os.environ) can inherit them.
for _name in [name for name in os.environ if name.startswith("DIGITIZE_")]:
    del os.environ[_name]


# The fast lane (-m "not slow") runs no OCR and starts no server. A test not marked slow that does
# either fails, naming what it did: in this process digitize.capture.ocr's engine (and tesserocr's
# API) and uvicorn's server refuse; every `digitize` command a test starts runs with the same
# refusals (FAST_LANE_CHILD, which records them in the file FAST_LANE_VIOLATIONS names, for the
# command may catch the error); `digitize serve`, Tesseract, OCRmyPDF, Prefect's server, PostgreSQL,
# Swift, uvicorn and Chromium are not started; the fixtures of servers and of the sample batch's run
# (SERVER_FIXTURES) are refused outright. The guard is on from a fast test's setup to its teardown.
SERVER_FIXTURES = {"sample_run", "prefect_server", "postgres", "swift", "browser", "clamav"}
REFUSED_PROGRAMS = {"tesseract", "ocrmypdf", "chromium", "chromium-browser", "pg_ctl", "initdb", "postgres",
                    "pg_ctlcluster", "uvicorn", "clamd"}
REFUSED_COMMANDS = {"serve"}  # `digitize serve` serves the flows (FAST_LANE_CHILD refuses `web` serving)
CLI_MODULES = ("digitize.cli.app", "digitize.cli")
FAST_LANE_CHILD = """
import importlib.util, os, runpy, sys

def refuse(what):
    with open(os.environ["FAST_LANE_VIOLATIONS"], "a", encoding="utf-8") as log:
        log.write(what + "\\n")
    raise RuntimeError(f"a fast-lane test ran {what}: mark it slow")

def no_ocr(*args, **kwargs):
    refuse("OCR (Tesseract) in a digitize command")

def no_server(*args, **kwargs):
    refuse("a uvicorn server in a digitize command")

def guard_ocr(module):
    module.engine = no_ocr

def guard_uvicorn(module):
    module.run = module.Server.run = module.Server.serve = no_server

class Guard:
    guards = {"digitize.capture.ocr": guard_ocr, "uvicorn": guard_uvicorn}

    def find_spec(self, name, path=None, target=None):
        if name not in self.guards:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        run, guard = spec.loader.exec_module, self.guards[name]

        def exec_module(module):
            run(module)
            guard(module)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Guard())
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
"""
_violations: list[str] = []

# Modules that are slow as a whole but import no pytest to say it with pytestmark
SLOW_MODULES = {"test_sample_batch.py": "the sample batch run (the session's sample_run)"}

# The suite runs on pytest-xdist workers (pyproject.toml), a test file to a worker (each file its own
# group, so its module fixtures are made once). Files that share a costly session fixture go to one
# worker together, so that it too is made once: the sample batch's run. (The Prefect server is shared
# across the workers instead: shared_prefect_server.)
SHARED_WORKER = {"test_reading_service.py": "sample-run", "test_sample_batch.py": "sample-run",
                 # both `digitize serve` the same deployments on the session's one Prefect server
                 "test_deployments.py": "prefect-serve", "test_prefect_ui.py": "prefect-serve"}

# The groups that take longest (CPU seconds in one process, and waits on servers), longest first:
# they start first, so that none of them starts near the end and keeps the other workers waiting
# for it. The other groups follow in file order. (xdist would otherwise start the groups with the
# most tests first: the many quick ones.)
LONGEST_FIRST = ("test_leaks.py", "sample-run", "test_ledger.py", "test_metadata_mistakes.py", "test_engine.py",
                 "test_nightly.py", "test_imaging.py", "test_han.py", "test_faults.py", "prefect-serve",
                 "test_iiif_service.py", "test_storage.py", "test_indexing.py",
                 "test_restart.py", "test_reading_order.py", "test_resolution.py")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: keep the order made below
        config.option.loadscopereorder = False


def _group_of(nodeid: str) -> str:
    """The group of a test: its file's (tests/x.py), or the SHARED_WORKER group of the file."""
    path = nodeid.split("::", 1)[0]
    return SHARED_WORKER.get(path.rsplit("/", 1)[-1], path)


def pytest_xdist_make_scheduler(config, log):
    """The groups above, made by the scheduler itself: xdist 3.8's loadgroup appends "@group" to
    ``item._nodeid``, which pytest 9 no longer reads, so each test went to any worker alone and the
    module and session fixtures (the reading service, the servers) were made once per worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of(nodeid)

    return ByGroup(config, log)


@pytest.hookimpl(tryfirst=True)  # before the -m selection and before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(SHARED_WORKER.get(item.path.name, item.path.name)))
    rank = {group: number for number, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(SHARED_WORKER.get(item.path.name, item.path.name), len(rank)))


def _refuse(what: str):
    _violations.append(what)
    raise RuntimeError(f"a fast-lane test ran {what}: mark it slow")


def _guarded_args(args, env):
    """The command a fast-lane test may start (a `digitize` command wrapped in FAST_LANE_CHILD), or
    RuntimeError when it is a server or OCR."""
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        words = text.split()
    else:
        words = [os.fsdecode(a) for a in args]
        text = " ".join(words)
    names = {Path(word).name for word in words}
    swift = any(Path(word).parent.name == "s3swift" for word in words)  # tests/s3swift/start.sh
    if names & REFUSED_PROGRAMS or ("prefect" in names and "server" in words) or swift:
        _refuse(f"`{text[:200]}`")
    for i, word in enumerate(words):
        cli = ((word == "-m" and i + 1 < len(words) and words[i + 1] in CLI_MODULES)
               or (Path(word).name == "digitize" and i == 0))
        if not cli:
            continue
        rest = words[i + (1 if word != "-m" else 2):]
        command = next((w for w in rest if not w.startswith("-")), None)
        if command in REFUSED_COMMANDS or (word != "-m" and command == "run"):
            _refuse(f"`digitize {command}`")
        if word == "-m" and not isinstance(args, (str, bytes, os.PathLike)):
            env = dict(os.environ if env is None else env)
            env["FAST_LANE_VIOLATIONS"] = os.environ["FAST_LANE_VIOLATIONS"]
            return [*args[:i], "-c", FAST_LANE_CHILD, words[i + 1], *args[i + 2:]], env
    return args, env


class _GuardedPopen(subprocess.Popen):
    def __init__(self, args, *rest, **kwargs):
        args, env = _guarded_args(args, kwargs.get("env"))
        if env is not None:
            kwargs["env"] = env
        super().__init__(args, *rest, **kwargs)


def _guard_fast_lane(item: pytest.Item) -> pytest.MonkeyPatch:
    import tempfile

    import tesserocr

    from digitize.capture import ocr

    def engine(*args, **kwargs):
        _refuse("OCR (Tesseract)")

    def server(*args, **kwargs):
        _refuse("a uvicorn server")

    patch = pytest.MonkeyPatch()
    patch.setattr(ocr, "engine", engine)
    patch.setattr(tesserocr, "PyTessBaseAPI", engine)
    patch.setattr(subprocess, "Popen", _GuardedPopen)
    try:
        import uvicorn
    except ImportError:
        pass
    else:
        patch.setattr(uvicorn.Server, "run", server)
        patch.setattr(uvicorn.Server, "serve", server)
        patch.setattr(uvicorn, "run", server)
    log = tempfile.NamedTemporaryFile(prefix="fast-lane-", suffix=".log", delete=False)
    log.close()
    patch.setenv("FAST_LANE_VIOLATIONS", log.name)
    return patch


def _take_violations() -> list[str]:
    found, _violations[:] = list(_violations), []
    log = os.environ.get("FAST_LANE_VIOLATIONS")
    if log and os.path.exists(log):
        found += Path(log).read_text(encoding="utf-8").splitlines()
        Path(log).write_text("", encoding="utf-8")
    return found


def _fast(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is None


def _check_fast_lane(item: pytest.Item):
    """Around a phase of a fast-lane test: fail it if it ran OCR or started a server."""
    if not _fast(item):
        return (yield)
    try:
        result = yield
    except BaseException as error:
        found = _take_violations()
        if found:
            raise pytest.fail.Exception(f"a fast-lane test ran {'; '.join(dict.fromkeys(found))}: "
                                        "mark it slow (pytest.mark.slow)", pytrace=False) from error
        raise
    found = _take_violations()
    if found:
        pytest.fail(f"a fast-lane test ran {'; '.join(dict.fromkeys(found))}: mark it slow (pytest.mark.slow)",
                    pytrace=False)
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    if _fast(item):
        item.stash[_GUARD] = _guard_fast_lane(item)
    return (yield from _check_fast_lane(item))


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request):
    """The fixtures of servers and of the sample batch's run refuse a fast-lane test at once."""
    item = getattr(request, "_pyfuncitem", None)
    if fixturedef.argname in SERVER_FIXTURES and item is not None and _fast(item):
        pytest.fail(f"a fast-lane test uses the fixture {fixturedef.argname} (OCR or a server): mark it slow",
                    pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    return (yield from _check_fast_lane(item))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """The guard is lifted before the teardown: the last test's teardown also stops the session's
    servers, which slow tests started."""
    patch = item.stash.get(_GUARD, None)
    if patch is not None:
        log = os.environ.get("FAST_LANE_VIOLATIONS")
        patch.undo()
        _violations.clear()
        if log:
            Path(log).unlink(missing_ok=True)


_GUARD = pytest.StashKey[pytest.MonkeyPatch]()


@pytest.fixture(autouse=True)
def fresh_settings():
    """The settings are read once per process; a test that changes the environment reads them anew."""
    from digitize.core.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real Prefect server (`prefect server start` on loopback) for the session, started once: the
    API of the flows the tests run in this process, and of the commands given its URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with shared_prefect_server(tmp_path_factory) as api:
        with temporary_settings({PREFECT_API_URL: api}):
            yield api


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server on loopback for the session (tests/pgserver.py)."""
    from pgserver import PostgresServer, postgres_available

    if not postgres_available():
        pytest.fail("PostgreSQL is not installed: run scripts/setup.sh, which installs it")
    server = PostgresServer(tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """`digitize run sample_scans` once for the session: (out folder, completed process, input hashes)."""
    out = tmp_path_factory.mktemp("out")
    before = tree_hashes(SAMPLES)
    result = run_cli("run", str(SAMPLES), "--out", str(out), "--workers", "2")
    return out, result, before


@dataclass
class StoredItems:
    """A copy of tests/data/stored/: two items (HD-DC-0001, HN-TK-0002 of library HD-TV) as the
    real pipeline stored them, with the batch they came from. Their stored files (METS hrefs, DC
    identifiers, stored.json, the PDFs' XMP) name the store where they were made, ``recorded``;
    ``resolve`` maps such a URL onto the copy."""

    root: Path
    recorded: str  # the store URL the stored files name

    LIBRARY = "HD-TV"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def scans(self) -> Path:
        return self.root / "scans"

    def item_ids(self) -> list[str]:
        return list(self.pages())

    def pages(self) -> dict[str, list[dict]]:
        """The pages of each item in order: {item_id: [{"page", "file", "frame"}]}."""
        return json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))

    def folder(self, item_id: str) -> Path:
        return self.store / self.LIBRARY / item_id

    def resolve(self, href: str) -> Path:
        """The file of the copy that a URL of the recorded store names."""
        assert href.startswith(self.recorded + "/"), href
        return self.store / unquote(href[len(self.recorded) + 1:])


def copy_stored_items(target: Path) -> StoredItems:
    """tests/data/stored/ copied to ``target`` (the tests may change their copy)."""
    shutil.copytree(STORED, target, dirs_exist_ok=True)
    library, item_id = StoredItems.LIBRARY, "HD-DC-0001"
    url = json.loads((target / "store" / library / item_id / "stored.json").read_text(encoding="utf-8"))["store"]
    assert url.endswith(f"/{library}/{item_id}"), url
    return StoredItems(target, url[:-len(f"/{library}/{item_id}")])


AXE = Path(__file__).parent / "data" / "axe" / "axe.min.js"  # axe-core from npm (tests/data/axe/README.md)


def serious_accessibility_faults(page) -> list[dict]:
    """axe-core's serious and critical violations on the Playwright ``page`` as it is now (axe is
    put in through DevTools: the site's own policy allows no script but its own)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target).slice(0, 3)}))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def stored_records(store_root: Path, library: str, item_id: str) -> str:
    """An item's records (METS and stored.json: those of the stored test item HD-DC-0001) put in a
    folder store, for tests whose items are made in the ledger alone and then reviewed (a decision
    writes its PREMIS event into the item's METS). Returns the item's store URL."""
    folder = store_root / library / item_id
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("mets.xml", "stored.json"):
        shutil.copyfile(STORED / "store" / StoredItems.LIBRARY / "HD-DC-0001" / name, folder / name)
    return folder.as_uri()


def resolve(href: str) -> Path:
    """The local file a file:// href names."""
    parsed = urlparse(href)
    assert parsed.scheme == "file", href
    return Path(unquote(parsed.path))


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


EPOCH = "1790000000"  # SOURCE_DATE_EPOCH for runs whose metadata dates must agree


def output_hashes(data: Path) -> dict[str, str]:
    """SHA-256 of every output and stored object under a data folder, minus the run's local
    bookkeeping (item.json and the page records hold timings) and the run reports (named by time)."""
    found = tree_hashes(data / "out") | {f"store/{k}": v for k, v in tree_hashes(data / "store").items()}
    return {k: v for k, v in found.items()
            if not (k.startswith("_reports") or "/pages/" in k or k.endswith("item.json"))}


def sample_manifest() -> dict:
    return json.loads((TRUTH / "manifest.json").read_text(encoding="utf-8"))


LOCALE_LANGUAGE = ("LC_ALL", "LC_MESSAGES", "LANG")  # what decides a command's language, but DIGITIZE_LANG


def cli_env(api_url: str | None, args: tuple[str, ...], settings: dict[str, str]) -> dict[str, str]:
    """The environment of a `digitize` command: no Prefect server, or the test Prefect API given;
    ``settings`` become DIGITIZE_* variables (store=... sets DIGITIZE_STORE); the data folder (store,
    ledger) defaults to the folder holding --out. The command speaks English whatever the language
    of the shell running the tests (a test of another language sets DIGITIZE_LANG or LANG itself)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", *LOCALE_LANGUAGE)} | {
        "COLUMNS": "200", "LANG": "C.UTF-8"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    if "--out" in args:  # the store and the ledger go beside the output, not into the project
        env["DIGITIZE_DATA"] = str(Path(args[args.index("--out") + 1]).parent)
    env.update({f"DIGITIZE_{k.upper()}": v for k, v in settings.items()})
    return env


def toml(**fields: str) -> str:
    """item.toml text with these fields, each a string."""
    return "".join(f'{key} = "{value}"\n' for key, value in fields.items())


def run_cli(*args: str, api_url: str | None = None, **settings: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` in its own process, as an operator runs it: the engine alone, or with
    ``api_url`` the digitize-batch flow against that Prefect API."""
    return subprocess.run([sys.executable, "-m", "digitize.cli.app", *args], env=cli_env(api_url, args, settings),
                          capture_output=True, text=True, timeout=900)


def invoke_cli(*args: str, stdin: str | None = None, **settings: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` in this process (Typer's CliRunner), with the environment run_cli gives its
    process: for the commands whose subject is what they do, not the process (its exit status,
    that no traceback reaches the terminal): a `digitize` process costs 2 CPU-s of imports."""
    from typer.testing import CliRunner

    from digitize.cli import language, output
    from digitize.cli.app import app
    from digitize.core.settings import get_settings

    wanted = cli_env(None, args, settings)
    env = {key: None for key in os.environ if key not in wanted} | wanted
    spoken = language.LANGUAGE  # chosen when this process imported the CLI: the words run_cli's process would use
    language.LANGUAGE = output.LANGUAGE = language.chosen(wanted)
    # the consoles' width too was taken from the environment at import: run_cli's process is COLUMNS wide
    widths = output.console.width, output.errors.width
    output.console.width = output.errors.width = int(wanted.get("COLUMNS", "80"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), input=stdin, env=env)
    finally:
        get_settings.cache_clear()
        language.LANGUAGE = output.LANGUAGE = spoken
        output.console.width, output.errors.width = widths
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["digitize", *args], result.exit_code, result.stdout, result.stderr)


def run_cli_in_terminal(*args: str, columns: int = 80, **settings: str) -> subprocess.CompletedProcess:
    """`digitize ARGS` on a terminal ``columns`` wide (a pseudo-terminal), as an operator at a console
    sees it: stdout holds what the terminal got (stderr too), its escape sequences taken out; a
    redrawn line (the progress) stays behind a carriage return."""
    import fcntl
    import pty
    import re
    import select
    import struct
    import termios

    screen, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = cli_env(None, args, settings) | {"COLUMNS": str(columns), "TERM": "xterm-256color"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "digitize.cli.app", *args], env=env, stdin=terminal,
                               stdout=terminal, stderr=terminal, start_new_session=True)
    os.close(terminal)
    received, deadline = bytearray(), time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            if select.select([screen], [], [], 1)[0]:
                try:
                    chunk = os.read(screen, 65536)
                except OSError:  # EIO: the command and everything it started have closed the terminal
                    break
                if not chunk:
                    break
                received += chunk
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(screen)
        if process.poll() is None:
            process.kill()
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07", "", received.decode("utf-8", "replace"))
    return subprocess.CompletedProcess(args, process.returncode, text.replace("\r\n", "\n"), "")


def latest_report(out: Path) -> dict:
    """The JSON report of the latest run that wrote into the output folder ``out``."""
    latest = max((out / "_reports").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return json.loads(latest.read_text(encoding="utf-8"))


def report_reasons(report: dict, severity: str | None = None) -> dict[str, str]:
    """Every reason in a run's report (of ``severity``, or all), by "item/file" (file None for the item)."""
    problems = [(item["item_id"], p) for item in report["items"] for p in item["problems"]]
    problems += [(p["item"], p) for p in report["problems"]]
    return {f"{item}/{p['file']}": p["reason"] for item, p in problems if severity in (None, p["severity"])}


def report_statuses(report: dict) -> dict[str, str]:
    return {item["item_id"]: item["status"] for item in report["items"]}


def register_library(data: Path, library: str) -> None:
    """Put ``library`` into the ledger of the data folder ``data`` (a one-record holdings register)."""
    register = data / f"{library}.csv"
    register.write_text("call_number,title,category\nX.1,x,dia_chi\n", encoding="utf-8")
    done = run_cli("holdings", "import", str(register), "--library", library, "--name", "Thư viện thử",
                   "--province", "hai-duong", "--tier", "provincial", data=str(data))
    register.unlink()
    assert done.returncode == 0, done.stdout + done.stderr


def start_cli(log: Path, *args: str, api_url: str | None = None, **settings: str) -> subprocess.Popen:
    """`digitize ARGS` started in its own process group (so the test can kill it and its children),
    its output going to ``log``."""
    with open(log, "w", encoding="utf-8") as output:
        return subprocess.Popen([sys.executable, "-m", "digitize.cli.app", *args], env=cli_env(api_url, args, settings),
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


SWIFT_DIR = ROOT / "tests" / "s3swift"
SWIFT_VERSION = "2.38.3"


class Swift:
    """A real single-node OpenStack Swift with the S3 API on loopback (tests/s3swift)."""

    def __init__(self, state: Path, port: int, python: Path):
        self.state, self.port, self.python = state, port, python
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test:tester",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}

    def start(self) -> None:
        subprocess.run(["bash", str(SWIFT_DIR / "start.sh"), str(self.state), str(self.port)], check=True,
                       env={**os.environ, "SWIFT_PYTHON": str(self.python)}, capture_output=True, timeout=120)

    def stop(self) -> None:
        subprocess.run(["bash", str(SWIFT_DIR / "stop.sh"), str(self.state)], check=True, capture_output=True,
                       timeout=60)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="test:tester",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def tool_python(module: str, *requirements: str) -> Path:
    """The Python of a virtual environment with ``requirements`` from PyPI (pinned), made once and
    kept between test sessions: tools the tests run beside the project (Swift; the IIIF consortium's
    validator and iiif-prezi3, which pin an older Pillow than the project's), whose dependencies
    must not enter the project's own environment. ``module`` is imported to check it is whole."""
    import tempfile

    name = hashlib.sha256(" ".join(sorted(requirements)).encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"digitize-test-{module}-{name}"
    python = venv / "bin" / "python"
    if not python.exists() or subprocess.run([str(python), "-I", "-c", f"import {module}"], capture_output=True).returncode:
        # uv (which scripts/setup.sh installs) makes it in seconds where pip takes half a minute
        subprocess.run(["python3", "-m", "uv", "venv", "-q", "--clear", "--python", sys.executable, str(venv)],
                       check=True)
        subprocess.run(["python3", "-m", "uv", "pip", "install", "-q", "--python", str(python), *requirements],
                       check=True)
    return python


IIIF_TOOLS = ("iiif-validator==1.0.5", "iiif-prezi3==3.1.1")  # one environment for both


def swift_python() -> Path:
    return tool_python("swift", f"swift=={SWIFT_VERSION}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the system picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, seconds: float, what: str, interval: float = 0.1) -> None:
    """Until ``condition()`` is true; AssertionError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_until_answers(url: str, seconds: float = 60, process: subprocess.Popen | None = None,
                       log: Path | None = None) -> None:
    """Until an HTTP GET of ``url`` is answered with 200. With ``process`` (the server), fail at
    once if it ends first, showing ``log`` when given."""
    import httpx

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            shown = log.read_text(encoding="utf-8", errors="replace") if log and log.exists() else ""
            raise RuntimeError(f"the server of {url} ended with {process.returncode} before answering\n{shown}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answered, seconds, f"{url} to answer", interval=0.2)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@contextmanager
def ledger_session(url: str):
    """A session on the ledger at ``url`` (made and migrated if new), closed afterwards with its
    engine disposed (no connection left for the garbage collector to find)."""
    from digitize.ledger import database as ledger

    session = ledger.open_ledger(url)
    try:
        yield session
    finally:
        session.close()
        session.get_bind().dispose()


@contextmanager
def uvicorn_server(app=None, seconds: float = 30, for_base=None):
    """An ASGI app served by uvicorn on a free loopback port, in a thread; yields its base URL.
    ``for_base(base)`` makes the app instead, for an app that must know its own address."""
    import uvicorn

    port = free_port()
    if for_base is not None:
        app = for_base(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), seconds, "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def prefect_server_process(home: Path, seconds: float = 120):
    """A real `prefect server start` on a free loopback port, its state in ``home``; yields the API URL."""
    server, api = start_prefect_server(home, seconds)
    try:
        yield api
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def start_prefect_server(home: Path, seconds: float = 120) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free loopback port in its own process group, answering: (process, API URL)."""
    port = free_port()
    # on a port other than 4200 the UI asks the API of PREFECT_UI_API_URL (README, "Prefect UI")
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": "", "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"}
    log = home / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_until_answers(f"{api}/health", seconds, process=server, log=log)
    except BaseException:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        raise
    return server, api


def free_port_block(size: int = 5) -> int:
    import random

    for _ in range(50):
        base = random.randint(20000, 40000)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports on 127.0.0.1")


@pytest.fixture(scope="session")
def swift(tmp_path_factory):
    server = Swift(tmp_path_factory.mktemp("swift"), free_port_block(), swift_python())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def clamav(tmp_path_factory):
    """A real ClamAV daemon on a Unix socket of its own (tests/clamd.py), with fresh test signatures
    (Digitize.Test.EICAR) and a stream limit of 1 MB; one per test module."""
    from clamd import running_clamd

    with running_clamd(tmp_path_factory.mktemp("clamd")) as daemon:
        yield daemon


# One Prefect server for the whole session, whatever the number of xdist workers: starting one costs
# 20-25 CPU-seconds. The first worker that needs it starts it (under a lock, in the base folder the
# workers share) and records it in PREFECT_RECORD; the others use it; the controller stops it when the
# session ends. The tests that use it find their own flow runs and artifacts (by the run's id or its
# batch folder), never "the latest"; the two files that `digitize serve` the same deployments share a
# worker (SHARED_WORKER). Without xdist the server is this process's, as before.
PREFECT_RECORD = "prefect-server.json"
_SHARED_SERVERS: list[subprocess.Popen] = []


@contextmanager
def shared_prefect_server(tmp_path_factory):
    import fcntl

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        with prefect_server_process(tmp_path_factory.mktemp("prefect-home")) as api:
            yield api
        return
    shared = tmp_path_factory.getbasetemp().parent  # the controller's base folder
    with open(shared / "prefect-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = shared / PREFECT_RECORD
        if not record.exists():
            home = shared / "prefect-home"
            home.mkdir(exist_ok=True)
            server, api = start_prefect_server(home)
            _SHARED_SERVERS.append(server)  # kept: the controller stops it, this worker may end first
            record.write_text(json.dumps({"api": api, "pid": server.pid}), encoding="utf-8")
        api = json.loads(record.read_text(encoding="utf-8"))["api"]
    yield api


def pytest_sessionfinish(session):
    """The controller of xdist's workers stops the session's shared Prefect server, and says what it cost."""
    if hasattr(session.config, "workerinput") or not hasattr(session.config.option, "numprocesses"):
        return
    if not session.config.option.numprocesses:
        return
    record = session.config._tmp_path_factory.getbasetemp() / PREFECT_RECORD
    if not record.exists():
        return
    pid = json.loads(record.read_text(encoding="utf-8"))["pid"]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
        os.killpg(pid, 15)
    except (OSError, IndexError, ValueError):
        return
    def stopped() -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # ended, not reaped
        except OSError:
            return True

    wait_for(stopped, 30, "the shared Prefect server to stop")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"the session's shared Prefect server used {cpu:.1f} CPU-seconds")


def batch_flow_runs(api: str, batch: Path, began) -> list[dict]:
    """The digitize-batch flow runs of the Prefect server at ``api`` that ran ``batch`` and started after
    ``began``: this test's own, whatever other tests run on the shared server at the same time."""
    import httpx

    runs = httpx.post(f"{api}/flow_runs/filter", json={"flows": {"name": {"any_": ["digitize-batch"]}},
                                                        "flow_runs": {"start_time": {"after_": began.isoformat()}}}).json()
    return [run for run in runs if str(run["parameters"].get("batch")) == str(batch)]
