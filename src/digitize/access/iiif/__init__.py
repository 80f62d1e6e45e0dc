"""IIIF: the Image API server, Presentation manifests and collections, Content Search; free of the ledger and the store."""
