"""One module per table; each has table(con) -> Table."""
