"""PRONOM format identification of a file by its content, with the signatures FIDO (opf-fido)
bundles, in this process: the PUID, format name and version recorded in the METS, a file whose
content contradicts its extension told, and a format a profile does not accept refused.

FIDO's signatures take about a second to load and compile (more on a busy machine), so they are
loaded once per process, when the first file is identified; FIDO's own matcher looks each regular
expression up again for every file (two to ten times slower), so its signatures are matched here,
compiled once, with FIDO's own rules: BOF patterns match at the start of the first 128 KiB, EOF
patterns anywhere in the last 128 KiB, the others anywhere in the first; of the formats found,
those another found format has priority over are dropped. No signature found, the extension is
matched as FIDO does (a plain text file has no signature)."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from digitize.core import pronom
from digitize.core.errors import BadInput
from digitize.core.i18n import N_, Text
from digitize.core.models import Agent, FileFormat, Profile

AGENT_ID = "fido"


@dataclass(frozen=True)
class _Signature:
    name: str
    patterns: tuple[tuple[str, re.Pattern], ...]  # (position, regex)


@dataclass(frozen=True)
class _Format:
    puid: str
    name: str
    version: str
    element: object  # FIDO's element, for its priorities
    signatures: tuple[_Signature, ...]


class _Signatures:
    """FIDO with its bundled signature files loaded, and their patterns compiled."""

    def __init__(self):
        from fido import CONFIG_DIR
        from fido.fido import Fido
        from fido.versions import get_local_versions

        versions = get_local_versions(CONFIG_DIR)
        self.fido = Fido(quiet=True, nocontainer=True, handle_matches=lambda *args: None,
                         format_files=[versions.pronom_signature, versions.fido_extension_signature])
        self.formats = []
        for element in self.fido.formats:
            signatures = []
            for signature in element.findall("signature"):
                try:
                    patterns = tuple((pattern.findtext("position"), re.compile(pattern.findtext("regex").encode()))
                                     for pattern in signature.findall("pattern"))
                except (re.error, AttributeError):  # a signature FIDO could not use either
                    continue
                signatures.append(_Signature(signature.findtext("name") or "", patterns))
            self.formats.append(_Format(element.findtext("puid"), element.findtext("name") or "",
                                        element.findtext("version") or "", element, tuple(signatures)))
        self.by_element = {id(f.element): f for f in self.formats}

    def _best(self, found: list[_Format]) -> list[_Format]:
        return [f for f in found if self.fido.as_good_as_any(f.element, [(g.element, "") for g in found])]

    def by_content(self, start: bytes, end: bytes) -> list[_Format]:
        found: list[_Format] = []
        for candidate in self.formats:
            if not candidate.signatures or not self.fido.as_good_as_any(candidate.element,
                                                                        [(f.element, "") for f in found]):
                continue
            if any(_matches(signature, start, end) for signature in candidate.signatures):
                found.append(candidate)
        return self._best(found)

    def by_extension(self, name: str) -> list[_Format]:
        return [self.by_element[id(element)] for element, _ in self.fido.match_extensions(name)]


def _matches(signature: _Signature, start: bytes, end: bytes) -> bool:
    for position, regex in signature.patterns:
        if position == "BOF":
            if not regex.match(start):
                return False
        elif not regex.search(end if position == "EOF" else start):
            return False
    return True


_loading = threading.Lock()


@lru_cache(maxsize=1)
def _loaded() -> _Signatures:
    return _Signatures()


def signatures() -> _Signatures:
    """The signatures, loaded by the first caller of the process (the others wait for it)."""
    with _loading:
        return _loaded()


@lru_cache(maxsize=1)
def versions() -> tuple[str, str]:
    """FIDO's version and its signature files' (PRONOM release and file), without loading them."""
    import fido
    from fido.versions import get_local_versions

    found = get_local_versions(fido.CONFIG_DIR)
    return fido.__version__, f"PRONOM v{found.pronom_version}, {found.pronom_signature}"


def agent() -> Agent:
    version, signature_files = versions()
    return Agent(id=AGENT_ID, name="FIDO", kind="software", version=f"{version}; signatures {signature_files}")


def identify(path: Path, name: str | None = None) -> FileFormat:
    """The format of the file at ``path`` (``name``: its name, for the extension, when the path's
    is another): by its content; with no signature found, by its extension (basis "extension");
    neither: basis "none". Raises OSError when the file cannot be read."""
    known = signatures()
    name = name or path.name
    with path.open("rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        start, end, _ = known.fido.get_buffers(stream, size, seekable=True)
    found = known.by_content(start, end) if size else []
    basis = "signature"
    if not found:
        found, basis = known.by_extension(name), "extension"
    if not found:
        return FileFormat(basis="none")
    promised = pronom.EXTENSIONS.get(Path(name).suffix.lower())
    best = next((f for f in found if promised and pronom.family(f.puid) == promised), found[0])
    return FileFormat(puid=best.puid, name=best.name, version=best.version, basis=basis)


def described(found: FileFormat) -> str:
    """"PNG (fmt/11, Portable Network Graphics 1.0)": the family, then PRONOM's identifier and name."""
    if not found.puid:
        return "a format PRONOM's signatures do not know"
    full = f"{found.puid}, {found.name} {found.version}".strip()
    family = pronom.family(found.puid)
    return f"{family} ({full})" if family else full


def check_extension(found: FileFormat, name: str) -> tuple[FileFormat, Text | None]:
    """A file whose content (identified by signature) is not what its extension promises: the
    format with what the extension said (``expected``), and the warning naming both."""
    suffix = Path(name).suffix.lower()
    promised = pronom.EXTENSIONS.get(suffix)
    if found.basis != "signature" or promised is None or pronom.family(found.puid) == promised:
        return found, None
    return found.model_copy(update={"expected": promised}), N_(
        "the content is {found}, but the extension {suffix} says {promised}; the file is read as what its content "
        "is: rename it to the extension of its format", found=described(found), suffix=suffix, promised=promised)


def check_accepted(found: FileFormat, profile: Profile) -> None:
    """BadInput when the file's format (identified by its content) is not one the profile accepts."""
    if found.basis != "signature" or found.puid in pronom.puids(profile.formats):
        return
    raise BadInput(N_("the content is {found}, a format profile {profile} does not accept (it accepts {accepted})",
                      found=described(found), profile=profile.name, accepted=", ".join(profile.formats)),
                   todo=N_("convert the file to one of those formats, or give the item a profile that accepts it"))


def identify_files(folder: Path, relatives: list[str]) -> dict[str, FileFormat]:
    """The format of each file of an item (paths in ``folder``)."""
    return {relative: identify(folder / relative) for relative in relatives}
