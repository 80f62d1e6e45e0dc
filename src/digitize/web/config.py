"""What the routes share, kept on ``app.state.config``: the ledger, the store, the public links,
the signing key, the plans and the networks of the reading rooms and trusted proxies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from digitize.access import reading
from digitize.access.iiif import image as iiif_image
from digitize.core.links import PublicLinks
from digitize.core.profiles import LibraryDeclaration
from digitize.ledger.plans import Plan
from digitize.store.storage import Store
from digitize.web.limits import RENDER_WAIT, RENDERS


@dataclass(kw_only=True)
class DashboardConfig:
    """The loopback app's: the coordinators' dashboard reads the ledger against the plans."""

    open_session: Callable[[], Session]
    plans: dict[str, Plan] = field(default_factory=dict)
    today: Callable[[], date] = date.today
    data: Path | None = None  # the data folder, where the last run's malware scan is kept


@dataclass(kw_only=True)
class SiteConfig(DashboardConfig):
    """The public app's: the dashboard's, and what the site, IIIF and the staff area read."""

    store: Store
    links: PublicLinks
    secret_key: bytes
    reading_rooms: list[reading.Network] = field(default_factory=list)
    proxies: list[reading.Network] = field(default_factory=list)
    libraries: dict[str, LibraryDeclaration] = field(default_factory=dict)  # libraries.toml
    image_cache_pixels: int = iiif_image.CACHE_PIXELS
    render_slots: int = RENDERS
    render_wait: float = RENDER_WAIT
    stored_items: reading.StoredItems = field(init=False)
    images: iiif_image.ImageCache = field(init=False)
    renders: anyio.Semaphore | None = field(init=False, default=None)  # made in the event loop, at first use

    def __post_init__(self):
        self.stored_items = reading.StoredItems(self.store)
        self.images = iiif_image.ImageCache(self.image_cache_pixels)

    @property
    def unlisted(self) -> frozenset[str]:
        """The libraries whose restricted records are left out of lists, counts and search."""
        return frozenset(code for code, declared in self.libraries.items() if not declared.list_restricted)

    @property
    def room_downloads(self) -> frozenset[str]:
        """The libraries whose reading rooms offer downloads of restricted items."""
        return frozenset(code for code, declared in self.libraries.items() if declared.reading_room_downloads)

    @property
    def secure(self) -> bool:
        """Whether the site is served over HTTPS (its cookies then say Secure)."""
        return self.links.base.startswith("https://")


async def site_config(request: Request) -> SiteConfig:
    return request.app.state.config


async def dashboard_config(request: Request) -> DashboardConfig:
    return request.app.state.config


Config = Annotated[SiteConfig, Depends(site_config)]
LoopbackConfig = Annotated[DashboardConfig, Depends(dashboard_config)]
