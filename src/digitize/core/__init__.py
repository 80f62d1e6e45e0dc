"""The ground floor: errors and exit codes, settings, the typed records, file helpers, profiles, labels, public links, Vietnamese text."""
