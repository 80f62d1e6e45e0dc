"""An item's rights statement: a RightsStatements.org statement or a Creative Commons licence (or
public domain tool), given by its URI in the item metadata (``rights``) or as its library's default
(libraries.toml). Only these two vocabularies are accepted because every consumer understands them
by their URI: the IIIF manifest's ``rights`` must be one of them, and harvesters and readers can
look them up. Names in words come from the gettext catalogues (``name(uri).in_language("vi")``)."""

from __future__ import annotations

import re

from digitize.core.i18n import N_, Text

RIGHTS_STATEMENTS = {
    "InC": N_("In Copyright"),
    "InC-OW-EU": N_("In Copyright - EU Orphan Work"),
    "InC-EDU": N_("In Copyright - Educational Use Permitted"),
    "InC-NC": N_("In Copyright - Non-Commercial Use Permitted"),
    "InC-RUU": N_("In Copyright - Rights-holder(s) Unlocatable or Unidentifiable"),
    "NoC-CR": N_("No Copyright - Contractual Restrictions"),
    "NoC-NC": N_("No Copyright - Non-Commercial Use Only"),
    "NoC-OKLR": N_("No Copyright - Other Known Legal Restrictions"),
    "NoC-US": N_("No Copyright - United States"),
    "CNE": N_("Copyright Not Evaluated"),
    "UND": N_("Copyright Undetermined"),
    "NKC": N_("No Known Copyright"),
}
_RS = re.compile(r"^https?://rightsstatements\.org/(?:vocab|page)/([A-Za-z-]+)/1\.0/?(?:\?.*)?$")
_CC = re.compile(r"^https?://creativecommons\.org/(licenses/(by(?:-nc)?(?:-sa|-nd)?)/(\d\.\d)((?:/[a-z]{2})?)"
                 r"|publicdomain/(zero|mark)/1\.0)/?(?:deed\.[a-zA-Z-]+)?$")


class NotARightsUri(ValueError):
    """A rights value that is no RightsStatements.org or Creative Commons URI."""


def canonical(value: str) -> str:
    """The URI as the vocabularies publish it (http, the vocabulary's path, a trailing slash):
    ``https://creativecommons.org/licenses/by/4.0/deed.vi`` is ``http://creativecommons.org/licenses/by/4.0/``.
    NotARightsUri (with what to write instead) for anything else."""
    value = value.strip()
    if found := _RS.match(value):
        if found.group(1) in RIGHTS_STATEMENTS:
            return f"http://rightsstatements.org/vocab/{found.group(1)}/1.0/"
    elif found := _CC.match(value):
        if found.group(5):
            return f"http://creativecommons.org/publicdomain/{found.group(5)}/1.0/"
        return f"http://creativecommons.org/licenses/{found.group(2)}/{found.group(3)}{found.group(4)}/"
    raise NotARightsUri(
        "is not a rights statement URI: write the URI of a RightsStatements.org statement (e.g. "
        "http://rightsstatements.org/vocab/InC/1.0/) or of a Creative Commons licence or tool (e.g. "
        "http://creativecommons.org/licenses/by/4.0/ or http://creativecommons.org/publicdomain/zero/1.0/)")


_CC_NAMES = {
    "by": N_("Creative Commons Attribution {version} (CC BY)"),
    "by-sa": N_("Creative Commons Attribution-ShareAlike {version} (CC BY-SA)"),
    "by-nd": N_("Creative Commons Attribution-NoDerivatives {version} (CC BY-ND)"),
    "by-nc": N_("Creative Commons Attribution-NonCommercial {version} (CC BY-NC)"),
    "by-nc-sa": N_("Creative Commons Attribution-NonCommercial-ShareAlike {version} (CC BY-NC-SA)"),
    "by-nc-nd": N_("Creative Commons Attribution-NonCommercial-NoDerivatives {version} (CC BY-NC-ND)"),
}


def name(uri: str) -> Text:
    """The statement's or licence's name, translatable (its URI itself for one unknown here)."""
    if found := _RS.match(uri):
        return RIGHTS_STATEMENTS.get(found.group(1), _as_is(uri))
    if found := _CC.match(uri):
        if found.group(5) == "zero":
            return N_("CC0 1.0 Universal (public domain dedication)")
        if found.group(5) == "mark":
            return N_("Public Domain Mark 1.0")
        return N_(_CC_NAMES[found.group(2)].msgid, version=found.group(3) + found.group(4).replace("/", " ").upper())
    return _as_is(uri)


def _as_is(uri: str) -> Text:
    return Text(msgid="{uri}", params={"uri": uri})
