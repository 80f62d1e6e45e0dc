"""Review and acceptance: what staff do with an item after a run (look, correct, transcribe,
accept or return), and what review teaches (sampling, the acceptance report, ground truth)."""
