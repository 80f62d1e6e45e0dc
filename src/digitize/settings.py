"""Settings from the environment (DIGITIZE_*), with defaults that work on a bare workstation."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_pixels: int = Field(250_000_000, description="larger images are refused (decompression bombs)")
    ocr_timeout: int = Field(600, ge=1, description="seconds before one page's OCR is abandoned (and tried again)")
    store: str = Field("", description="file:///path or s3://bucket/prefix [default: file://$DIGITIZE_DATA/store]")
    multipart_mb: int = Field(64, ge=5, description="files larger than this go to S3 in parts")
    ledger: str = Field("", description="SQLAlchemy URL of the quota ledger [default: SQLite in $DIGITIZE_DATA]")
    oai_page_size: int = Field(100, ge=1, description="records per OAI-PMH response before a resumption token")

    @property
    def out(self) -> Path:
        return self.data / "out"

    @property
    def ledger_url(self) -> str:
        return self.ledger or f"sqlite:///{(self.data / 'ledger.sqlite').resolve()}"

    @property
    def store_url(self) -> str:
        return self.store or (self.data / "store").resolve().as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read from the environment once per process."""
    return Settings()
