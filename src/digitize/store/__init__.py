"""Where finished items are kept: a local folder or S3-compatible object storage, verified."""
