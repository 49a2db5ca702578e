"""Reproduce Mehta & Schwab (arXiv:1410.3831) end to end and measure it.

Runs :func:`rgdl.pipeline.run_pipeline` with the paper's setting (40x40 periodic Ising lattice at
coupling 0.408, 20,000 samples, 1600-400-100-25 RBM stack, CD-1, 200 epochs, L1 2e-4) or the
small ``--quick`` version, and writes figures (PNG + PDF), ``summary.json`` and ``report.md`` to
``--out``. Stages are cached: rerunning skips finished stages and a killed run resumes.
Equivalent to ``rgdl reproduce --paper``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from rgdl.pipeline import preset, run_pipeline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="the small first-look setting")
    parser.add_argument("--out", default="paper-results", help="results folder (default paper-results)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="override the training epochs")
    parser.add_argument("--samples", type=int, default=None, help="override the Monte Carlo samples")
    parser.add_argument("--force", action="store_true", help="recompute every stage")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    config = preset("quick" if args.quick else "paper", seed=args.seed, n_epochs=args.epochs,
                    n_samples=args.samples)
    started = time.perf_counter()
    last = {}

    def progress(stage, done, total):
        if done is None:
            print(f"[{time.perf_counter() - started:7.1f} s] {stage}: {total}", flush=True)
        elif done == total or time.perf_counter() - last.get(stage, 0) > 10:
            last[stage] = time.perf_counter()
            print(f"[{time.perf_counter() - started:7.1f} s] {stage}: {done}/{total}", flush=True)

    summary = run_pipeline(config, args.out, progress=progress, force=args.force)
    for l, layer in enumerate(summary["layers"]):
        print(f"layer {l + 1}: best b = {layer['best_block_size']}, fidelity {layer['block_fidelity']:.3f}"
              f" (ceiling {layer['block_fidelity_ceiling']:.3f}, null {layer['block_fidelity_null']})")
    print(f"generation R-hat {summary['generation_rhat']:.3f} "
          f"({'equilibrated' if summary['generation_equilibrated'] else 'NOT equilibrated'})")
    print(f"report: {args.out}/report.md  ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
