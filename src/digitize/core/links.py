"""The public addresses of the reading service, all under the public base URL
(``DIGITIZE_PUBLIC_URL``): what the site serves and what every published record links to. They
are made here only, so the web app's routes, the IIIF documents, OAI-PMH, MARC, DCAT and BagIt
always agree."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from digitize.core.errors import ConfigError

PUBLIC_URL_SETTING = "DIGITIZE_PUBLIC_URL"


def check_public_url(url: str) -> str:
    """``url`` as a public base URL (http or https, a host, no query or fragment), without a
    trailing slash; ConfigError naming the setting otherwise, or when it is empty."""
    if not url:
        raise ConfigError("the public address of the reading service is not set", PUBLIC_URL_SETTING,
                          f"set {PUBLIC_URL_SETTING} to the address readers use, for example "
                          f"{PUBLIC_URL_SETTING}=https://thuvien.example.vn/so-hoa (http://127.0.0.1:8000 "
                          "on one computer); every published record links to it")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise ConfigError("the public address must be an http:// or https:// address with a host and "
                          "without a query, a fragment or a password", PUBLIC_URL_SETTING,
                          "for example https://thuvien.example.vn/so-hoa")
    return url.rstrip("/")


@dataclass(frozen=True)
class PublicLinks:
    base: str  # the public base URL, without a trailing slash

    def _path(self, *segments: str | int) -> str:
        return "/".join([self.base, *(quote(str(s), safe="") for s in segments)])

    def home(self) -> str:
        return self.base + "/"

    def library(self, library: str) -> str:
        return self._path("libraries", library)

    def item(self, library: str, item_id: str) -> str:
        return self._path("items", library, item_id)

    def file(self, library: str, item_id: str, relative: str) -> str:
        """A stored file of the item (``relative``: its path in the item, e.g. alto/0001.xml)."""
        return self._path("items", library, item_id, "files") + "/" + quote(relative)

    def pdf(self, library: str, item_id: str) -> str:
        return self.file(library, item_id, f"{item_id}.pdf")

    def manifest(self, library: str, item_id: str) -> str:
        return self._path("iiif", library, item_id, "manifest.json")

    def search(self, library: str, item_id: str) -> str:
        """The item's IIIF Content Search 1.0 service (search inside the item)."""
        return self._path("iiif", library, item_id, "search")

    def image_service(self, library: str, item_id: str, page: int) -> str:
        return self._path("iiif", library, item_id, page)

    def canvas(self, library: str, item_id: str, page: int) -> str:
        return self._path("iiif", library, item_id, "canvas", page)

    def collection(self, library: str | None = None) -> str:
        return self._path("iiif", library, "collection.json") if library else self._path("iiif", "collection.json")

    def oai(self) -> str:
        return self._path("oai")

    def sitemap(self) -> str:
        return self._path("sitemap.xml")

    def static(self, name: str) -> str:
        return self._path("static") + "/" + quote(name)

    def item_links(self, library: str, item_id: str) -> list[str]:
        """What a published record of the item links to: its page, its IIIF manifest and its PDF/A."""
        return [self.item(library, item_id), self.manifest(library, item_id), self.pdf(library, item_id)]
