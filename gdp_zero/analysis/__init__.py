"""Strategy distributions: dialogues from any source -> one table -> figures, a test, an HTML report."""
