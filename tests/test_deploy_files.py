"""The example deployment files (deploy/, Dockerfile) fit the project: the systemd units start
programs the venv of scripts/setup.sh has, the worker talks to the server's address, the env file
names real settings, and the image installs what setup.sh installs."""

from __future__ import annotations

import configparser
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from typer.testing import CliRunner

from digitize.cli.app import app
from digitize.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
VENV_BIN = "/opt/digitize/.venv/bin/"  # scripts/setup.sh run in /opt/digitize makes this venv


def unit(name: str) -> tuple[configparser.ConfigParser, dict[str, str]]:
    """The unit's sections and its Environment= variables (a key systemd allows many times)."""
    text = (UNITS / name).read_text(encoding="utf-8")
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    env = dict(re.findall(r"^Environment=([A-Z_][A-Z0-9_]*)=(.*)$", text, re.M))
    return parser, env


def command(parser: configparser.ConfigParser, key: str = "ExecStart") -> list[str]:
    return shlex.split(parser["Service"][key])


def test_units_start_programs_of_the_project_venv():
    for name, program in (("prefect-server.service", "prefect"), ("digitize-worker.service", "digitize"),
                          ("digitize-web.service", "digitize")):
        parser, _ = unit(name)
        argv = command(parser)
        assert argv[0] == VENV_BIN + program, name
        assert (Path(sys.prefix) / "bin" / program).is_file(), f"the venv has no {program}"
        assert parser["Service"]["User"] == "digitize"
        assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_worker_serves_against_the_servers_address():
    server, server_env = unit("prefect-server.service")
    worker, env = unit("digitize-worker.service")
    argv = command(server)
    assert argv[1:3] == ["server", "start"]
    host, port = argv[argv.index("--host") + 1], argv[argv.index("--port") + 1]
    api = urlsplit(env["PREFECT_API_URL"])
    assert (api.hostname, str(api.port), api.path) == (host, port, "/api")
    assert env["PREFECT_API_URL"] in server["Service"]["ExecStartPost"]  # started = API answers
    assert server_env["PREFECT_HOME"] == env["PREFECT_HOME"] == "/var/lib/digitize/prefect"
    assert env["DIGITIZE_DATA"] == "/var/lib/digitize/data"
    assert "prefect-server.service" in worker["Unit"]["Requires"].split()
    assert "prefect-server.service" in worker["Unit"]["After"].split()
    assert command(worker)[1:] == ["serve"]
    assert CliRunner().invoke(app, ["serve", "--help"]).exit_code == 0
    for parser in (server, worker):
        assert parser["Service"]["EnvironmentFile"] == "-/etc/digitize/digitize.env"


def test_env_example_names_real_settings():
    text = (ROOT / "deploy" / "digitize.env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, re.M))
    assert {"DIGITIZE_STORE", "DIGITIZE_LEDGER", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= names
    settings = {f"DIGITIZE_{field.upper()}" for field in Settings.model_fields}
    assert {n for n in names if n.startswith("DIGITIZE_")} <= settings


def test_image_installs_the_runtime_packages_of_setup_and_serves():
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    test_only = {"postgresql", "chromium", "libatomic1", "mount", "fonts-noto-cjk", "libmagic1"}  # the image runs no tests
    wanted = set(re.search(r"APT_PACKAGES=\((.*?)\)", setup, re.S).group(1).split()) - test_only
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    install = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", dockerfile, re.S).group(1)
    assert wanted <= set(install.replace("\\", " ").split())
    assert 'ENTRYPOINT ["digitize"]' in dockerfile and 'CMD ["serve"]' in dockerfile
