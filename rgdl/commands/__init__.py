"""One module per ``rgdl`` subcommand; each is a thin click layer over the library."""
