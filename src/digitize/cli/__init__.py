"""The digitize command."""
