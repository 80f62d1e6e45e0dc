"""The web app: HTTP wiring of the reading service, the staff area and OAI-PMH."""
