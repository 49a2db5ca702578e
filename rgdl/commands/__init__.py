"""One module per ``rgdl`` subcommand; each is a thin click layer over the library."""

import click as _click

#: Click type of count options (sizes, samples, sweeps, epochs, ...): an integer no larger than
#: 2**53, so that every kernel's int64 counters and float64 averages hold it exactly; larger
#: values are a one-line usage error instead of a Numba typing error or an overflow.
COUNT = _click.IntRange(max=1 << 53)
