"""Describing an item: MARC records, Dublin Core, MODS, METS with PREMIS, the package, the schemas, what is published."""
