"""What readers and staff may see and how it is shown: reading rules, site and dashboard views, OAI-PMH, DCAT, IIIF."""
