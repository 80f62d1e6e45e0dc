"""Settings from the environment (DIGITIZE_*), with defaults that work on a bare workstation."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from digitize.core.errors import ConfigError
from digitize.core.links import PublicLinks, check_public_url

# The default profiles ship inside the package: a plain folder in the wheel and in the source tree.
PACKAGED_PROFILES = Path(str(files("digitize") / "data" / "profiles"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITIZE_")

    data: Path = Field(Path("data"), description="root of outputs, work files and quarantine")
    profiles: Path = Field(PACKAGED_PROFILES, description="folder of profile data files [default: the packaged ones]")
    default_profile: str = "quoc-ngu-modern"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    dask: str = Field("", description="run page tasks on Dask: 'local' (a local cluster with one single-threaded "
                      "worker per DIGITIZE_WORKERS) or a scheduler address such as tcp://10.0.0.5:8786")
    inbox_quiet_seconds: float = Field(300, ge=0, description="a batch of the nightly inbox whose READY file "
                                       "was written after its last page is taken once nothing in it has "
                                       "changed for this long")
    max_pixels: int = Field(250_000_000, description="larger images are refused (decompression bombs)")
    ocr_timeout: int = Field(600, ge=1, description="seconds before one page's OCR is abandoned (and tried again)")
    store: str = Field("", description="file:///path or s3://bucket/prefix [default: file://$DIGITIZE_DATA/store]")
    multipart_mb: int = Field(64, ge=5, description="files larger than this go to S3 in parts")
    ledger: str = Field("", description="SQLAlchemy URL of the quota ledger [default: SQLite in $DIGITIZE_DATA]")
    oai_page_size: int = Field(100, ge=1, description="records per OAI-PMH response before a resumption token")
    secret_key: str = Field("", description="key that signs the web app's tokens (OAI-PMH resumption tokens, "
                            "staff sessions) [default: a random key kept in $DIGITIZE_DATA/secret.key]")
    public_url: str = Field("", description="the address readers use to reach the reading service "
                            "(https://thuvien.example.vn/so-hoa): every published link is under it")
    reading_rooms: str = Field("", description="the reading-room networks, CIDR ranges separated by commas or "
                               "spaces (10.20.0.0/16, 2001:db8::/48): restricted items are served there")
    trusted_proxies: str = Field("", description="addresses of the reverse proxies whose X-Forwarded-For "
                                 "gives the reader's address (CIDR ranges as reading_rooms)")
    clamd_socket: str = Field("/var/run/clamav/clamd.ctl", description="the Unix socket of ClamAV's daemon, "
                              "which scans every original file for malware at intake")
    malware_scan: Literal["required", "best-effort"] = Field(
        "best-effort", description="required: a run stops before any work when ClamAV's daemon does not answer "
        "or its signatures are too old; best-effort: the run goes on and says what was not scanned")
    signatures_max_age: int = Field(7, ge=1, description="days: older ClamAV signatures stop a run when scanning "
                                    "is required (and are noted otherwise)")

    @property
    def out(self) -> Path:
        return self.data / "out"

    @property
    def ledger_url(self) -> str:
        return self.ledger or f"sqlite:///{(self.data / 'ledger.sqlite').resolve()}"

    @property
    def store_url(self) -> str:
        return self.store or (self.data / "store").resolve().as_uri()

    def links(self) -> PublicLinks:
        """The public addresses; ConfigError naming DIGITIZE_PUBLIC_URL when it is not set: nothing
        is published without it."""
        return PublicLinks(check_public_url(self.public_url))

    def token_key(self) -> bytes:
        """The key that signs tokens: DIGITIZE_SECRET_KEY, else the one in $DIGITIZE_DATA/secret.key,
        made on first use and then shared by every process and server worker using that folder."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data / "secret.key"
        try:
            if not path.exists():
                _write_new_key(path)
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"the secret key cannot be made or read ({exc.strerror or exc})", str(path),
                              "make the data folder writable by this user, or set DIGITIZE_SECRET_KEY") from None
        if len(key) < 32:
            raise ConfigError("the secret key is shorter than 32 bytes", str(path),
                              "remove the file (a new key is made; resumption tokens already given out stop working)")
        return key


def _write_new_key(path: Path) -> None:
    """A random key at ``path`` (mode 0600), unless another process has just made one. It is written
    whole under a temporary name, then linked into place: a process reading the key never sees half
    of it, and of two processes making one at once, the first wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret.key.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(secrets.token_bytes(32))
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def shown_url(url: str) -> str:
    """``url`` fit to print: a password in it (user:PASSWORD@host, or ?password=) shown as ***."""
    scheme, sep, rest = url.partition("://")
    # the last "@" before the query ends the user part, even if the password holds "/" or "@"
    userinfo = rest.partition("?")[0].rpartition("@")[0]
    if ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:***@{rest[len(userinfo) + 1:]}"
    return scheme + sep + re.sub(r"([?&]password=)[^&#]*", r"\1***", rest, flags=re.IGNORECASE)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read from the environment once per process."""
    return Settings()
