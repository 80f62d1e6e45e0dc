"""One batch run: the work for each page and item, the scheduler, the runner seam (usable without Prefect)."""
