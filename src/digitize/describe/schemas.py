"""Validation of every XML document we write against the official schemas shipped in the package
(src/digitize/data/schemas), offline: the schemas' remote imports are resolved to the local copies."""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from lxml import etree

from digitize.core.errors import OutputInvalid
# A plain folder in the wheel and in the source tree (the schemas import each other by file URI).
SCHEMAS = Path(str(files("digitize") / "data" / "schemas"))
LOCAL_COPIES = {
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.loc.gov/mods/xml.xsd": "xml.xsd",
    "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "dc.xsd",
}
# One schema set for all the vocabularies we write, so a METS document is checked together with
# the MODS, DC and PREMIS records embedded in it (METS wraps them with lax wildcards).
DRIVER = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:digitize:schemas">
  <xs:import namespace="http://www.loc.gov/METS/" schemaLocation="{root}/mets.xsd"/>
  <xs:import namespace="http://www.loc.gov/mods/v3" schemaLocation="{root}/mods.xsd"/>
  <xs:import namespace="http://www.loc.gov/premis/v3" schemaLocation="{root}/premis.xsd"/>
  <xs:import namespace="http://purl.org/dc/elements/1.1/" schemaLocation="{root}/dc.xsd"/>
  <xs:import namespace="http://purl.org/dc/terms/" schemaLocation="{root}/dcterms.xsd"/>
  <xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="{root}/oai_dc.xsd"/>
</xs:schema>"""


class _LocalCopies(etree.Resolver):
    def resolve(self, url, public_id, context):
        name = LOCAL_COPIES.get(url)
        if name is None and url.startswith(("http://", "https://")):
            raise OutputInvalid(f"schema import {url} has no local copy", str(SCHEMAS),
                                "add the file to src/digitize/data/schemas and to LOCAL_COPIES")
        return self.resolve_filename(str(SCHEMAS / name), context) if name else None


# Building the schema set in two threads at once, or while other threads parse XML, sometimes fails
# inside libxml2 (xml:space not found): the batch engine builds it before its workers start, and one
# thread at a time builds and validates (a schema's error log is shared).
LOCK = threading.Lock()


@lru_cache
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalCopies())
    driver = etree.fromstring(DRIVER.format(root=SCHEMAS.as_uri()).encode(), parser)
    return etree.XMLSchema(driver)


def validate(document: etree._Element | etree._ElementTree, where: str) -> None:
    """Raise OutputInvalid naming the element and the schema's complaint if the document (or
    element, with everything in it) is not valid."""
    with LOCK:
        checker = schema()
        if checker.validate(document):
            return
        error = checker.error_log.last_error
    raise OutputInvalid(f"not valid against the official schema: line {error.line}: {error.message}", where,
                        "this is a bug in the metadata writer or in the catalogue data it was given; "
                        "report it with the file")


def validate_file(path: Path) -> None:
    validate(etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False)), str(path))
