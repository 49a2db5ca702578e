"""Command-line pieces shared by the argparse study scripts (``scripts/generative_check.py``,
``scripts/temperature_study.py``).

One parser shape (description and epilog from the script's docstring), one set of run options
(``--seed``, ``--out``, ``-v``) and one logging set-up.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

__all__ = ["study_parser", "parse_study_args"]


def study_parser(doc: str) -> argparse.ArgumentParser:
    """An ArgumentParser whose description is the first paragraph of ``doc``, the rest its epilog."""
    first, _, rest = doc.partition("\n\n")
    return argparse.ArgumentParser(description=first, epilog=rest or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_study_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
                     out_default: str) -> tuple[argparse.Namespace, Path]:
    """Add ``--seed``, ``--out`` and ``-v``, parse ``argv``, set up logging, create ``--out``.

    Returns
    -------
    (argparse.Namespace, pathlib.Path)
        The arguments and the output folder.
    """
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--out", default=out_default, help=f"output folder (default {out_default})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every training epoch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return args, out
