"""One module per ``rgdl`` subcommand; each is a thin click layer over the library.

The options they share are declared once, in :mod:`rgdl.commands.options`.
"""

from rgdl.commands.options import COUNT

__all__ = ["COUNT"]
