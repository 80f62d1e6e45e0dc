"""Reading what the scanner made: item folders and their metadata, page files, resolution, imaging, OCR, the text layer and the PDF."""
