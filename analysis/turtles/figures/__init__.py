"""One module per figure; each has data(con) and plot(con, outdir)."""
