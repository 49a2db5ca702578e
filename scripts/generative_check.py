"""Generative correctness of a single RBM: do its samples reproduce Monte Carlo thermodynamics?

For each temperature: Monte Carlo data of the periodic L x L Ising model (Wolff), one spin-unit
RBM trained with rgdl's best recipe (CD-k, decaying learning rate, optional symmetry
augmentation: global spin flip and lattice translations), then Gibbs chains of the model started
from noise and from data. The Gelman-Rubin R-hat of the chains decides whether the model has
equilibrated; only then are <E>/N and <|M|>/N compared with Monte Carlo (Torlai & Melko,
PRB 94, 165134 (2016)). With ``--models N`` every temperature is repeated with N seeds (new
data, new model) and the summary's error bar includes the model-to-model spread, which at 8 x 8
is larger than the sampling errors of one model. Writes ``generative_check.json`` (per
temperature: the runs and their summary) and a figure (PNG + PDF; the first seed's model).

Example: ``python scripts/generative_check.py --size 8 --temperatures 2.0 2.27 3.0 --out gen8``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("generative_check")


def augment_translations(spins, copies, rng):
    """``copies`` randomly translated copies of every configuration (periodic lattice symmetry)."""
    n, L = spins.shape[0], spins.shape[1]
    out = [spins]
    for _ in range(copies):
        shifts = rng.integers(0, L, size=(n, 2))
        moved = np.empty_like(spins)
        for k in range(n):
            moved[k] = np.roll(spins[k], tuple(shifts[k]), axis=(0, 1))
        out.append(moved)
    return np.concatenate(out)


def check_temperature(size, temperature, *, n_samples=20000, n_hidden=128, cd_k=10, n_epochs=200,
                      learning_rate=0.05, final_learning_rate=5e-4, batch_size=100,
                      flip_augmentation=True, translation_copies=0, n_chains=100,
                      n_gibbs=4000, n_records=20, seed=0, spins=None):
    """Train one RBM at ``temperature`` and compare its Gibbs samples with Monte Carlo.

    Parameters
    ----------
    spins : ndarray (n, L, L), optional
        Training data; default: Wolff Monte Carlo samples (``ising.samplers.sample``).

    Returns
    -------
    dict
        ``monte_carlo`` and ``generated`` estimates, ``relative_error``, ``rhat``,
        ``equilibrated`` and the recipe.
    """
    from analysis.thermodynamics import (gelman_rubin, relative_error,
                                         thermodynamic_estimates)
    from ising.lattice import energy_per_spin, magnetization_per_spin
    from ising.samplers import sample
    from rbm import RBM

    ss = np.random.SeedSequence(seed)
    s_mc, s_rbm, s_aug, s_gen = (int(x.generate_state(1)[0]) for x in ss.spawn(4))
    if spins is None:
        spins = sample(2, size, temperature, algorithm="wolff", n_samples=n_samples,
                       n_chains=8, seed=s_mc).spins
    spins = np.asarray(spins, np.int8)
    n_spins = size * size
    e_mc = energy_per_spin(spins, 1.0, 0.0, 2)
    m_mc = magnetization_per_spin(spins, 2)
    train = spins
    if translation_copies:
        train = augment_translations(spins, translation_copies, np.random.default_rng(s_aug))
    model = RBM(n_hidden, units="spin", cd_k=cd_k, n_iter=n_epochs, learning_rate=learning_rate,
                learning_rate_schedule="exponential", final_learning_rate=final_learning_rate,
                batch_size=batch_size, flip_augmentation=flip_augmentation, monitor_size=0,
                random_state=s_rbm)
    t0 = time.perf_counter()
    model.fit(train.reshape(train.shape[0], -1))
    train_seconds = time.perf_counter() - t0

    rng = np.random.default_rng(s_gen)
    half = n_chains // 2
    start = np.concatenate([rng.choice([-1, 1], size=(half, n_spins)),
                            spins.reshape(spins.shape[0], -1)[rng.choice(spins.shape[0], half)]])
    v = start.astype(np.float64)
    every = max(1, n_gibbs // n_records)
    e_rec = np.empty((n_chains, n_records))
    m_rec = np.empty_like(e_rec)
    for r in range(n_records):
        v = model.gibbs(v, n_steps=every, seed=rng)
        lat = v.reshape(n_chains, size, size).astype(np.int8)
        e_rec[:, r] = energy_per_spin(lat, 1.0, 0.0, 2)
        m_rec[:, r] = np.abs(magnetization_per_spin(lat, 2))
    keep = n_records // 2
    rhat = {"energy": gelman_rubin(e_rec[:, keep:]), "abs_magnetization": gelman_rubin(m_rec[:, keep:])}
    mc = thermodynamic_estimates(e_mc, m_mc, n_spins, temperature)
    gen = thermodynamic_estimates(e_rec[:, keep:].ravel(), m_rec[:, keep:].ravel(), n_spins,
                                  temperature, n_blocks=min(20, n_chains))
    return {
        "size": size, "temperature": temperature,
        "recipe": {"n_hidden": n_hidden, "cd_k": cd_k, "n_epochs": n_epochs,
                   "learning_rate": [learning_rate, final_learning_rate],
                   "flip_augmentation": flip_augmentation, "translation_copies": translation_copies,
                   "n_samples": int(spins.shape[0]), "seed": seed},
        "train_seconds": train_seconds,
        "rhat": rhat, "equilibrated": bool(max(rhat.values()) < 1.1),
        "monte_carlo": {k: v.to_dict() for k, v in mc.items()},
        "generated": {k: v.to_dict() for k, v in gen.items()},
        "relative_error": {k: relative_error(gen[k], mc[k]) for k in ("energy", "abs_magnetization")},
    }


def summarize_models(runs):
    """Combine independent repetitions (own Monte Carlo data, own model) at one temperature.

    The relative errors of the runs are averaged; with two or more runs the error of the mean is
    their standard deviation over sqrt(n) (it contains sampling, data and training variance; the
    per-run error bars contain only the first), and ``spread`` is that standard deviation. With
    one run the error is the run's own error bar and ``spread`` is None.
    """
    summary = {"n_models": len(runs), "equilibrated": all(r["equilibrated"] for r in runs)}
    for obs in ("energy", "abs_magnetization"):
        values = np.array([r["relative_error"][obs]["value"] for r in runs])
        if len(runs) == 1:
            summary[obs] = {"value": float(values[0]),
                            "error": float(runs[0]["relative_error"][obs]["error"]),
                            "spread": None}
        else:
            spread = float(values.std(ddof=1))
            summary[obs] = {"value": float(values.mean()),
                            "error": spread / np.sqrt(len(values)), "spread": spread}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=8, help="lattice size L (default 8)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[2.0, 2.27, 3.0],
                        help="temperatures T/J (default 2.0 2.27 3.0)")
    parser.add_argument("--samples", type=int, default=20000, help="Monte Carlo samples per T")
    parser.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    parser.add_argument("--cd-k", type=int, default=10, help="Gibbs steps of CD (default 10)")
    parser.add_argument("--epochs", type=int, default=200, help="training epochs (default 200)")
    parser.add_argument("--translations", type=int, default=0,
                        help="randomly translated copies of each sample to add (default 0)")
    parser.add_argument("--no-flip", action="store_true", help="no global spin-flip augmentation")
    parser.add_argument("--chains", type=int, default=100, help="Gibbs chains (half from noise)")
    parser.add_argument("--gibbs", type=int, default=4000, help="Gibbs steps per chain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=int, default=1,
                        help="independent repetitions (data and model) per T, seeds seed, seed+1, "
                             "...; with 2 or more the summary error includes the model-to-model "
                             "spread (default 1)")
    parser.add_argument("--out", default="generative_check", help="output folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every training epoch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for t in args.temperatures:
        runs = []
        for k in range(args.models):
            res = check_temperature(args.size, t, n_samples=args.samples, n_hidden=args.hidden,
                                    cd_k=args.cd_k, n_epochs=args.epochs,
                                    flip_augmentation=not args.no_flip,
                                    translation_copies=args.translations, n_chains=args.chains,
                                    n_gibbs=args.gibbs, seed=args.seed + k)
            runs.append(res)
            rel = res["relative_error"]
            verdict = "equilibrated" if res["equilibrated"] else "NOT equilibrated (numbers not results)"
            print(f"T = {t:g}, seed {args.seed + k}: R-hat {max(res['rhat'].values()):.3f} "
                  f"({verdict}); <E>/N rel. error {rel['energy']['value']:+.4f} ± "
                  f"{rel['energy']['error']:.4f}; <|M|>/N rel. error "
                  f"{rel['abs_magnetization']['value']:+.4f} ± "
                  f"{rel['abs_magnetization']['error']:.4f}; training {res['train_seconds']:.0f} s")
        summary = summarize_models(runs)
        if args.models > 1:
            print(f"T = {t:g}, {args.models} models: <E>/N rel. error "
                  f"{summary['energy']['value']:+.4f} ± {summary['energy']['error']:.4f} "
                  f"(model spread {summary['energy']['spread']:.4f}); <|M|>/N rel. error "
                  f"{summary['abs_magnetization']['value']:+.4f} ± "
                  f"{summary['abs_magnetization']['error']:.4f} "
                  f"(spread {summary['abs_magnetization']['spread']:.4f}); all equilibrated: "
                  f"{summary['equilibrated']}")
        results.append({"temperature": t, "models": runs, "summary": summary})
    (out / "generative_check.json").write_text(json.dumps(results, indent=1))
    from analysis.figures import plot_generative_check

    obs = ("energy", "abs_magnetization")
    first = [r["models"][0] for r in results]  # the figure shows the first seed's model
    mc = {o: [(r["monte_carlo"][o]["value"], r["monte_carlo"][o]["error"]) for r in first] for o in obs}
    gen = {o: [(r["generated"][o]["value"], r["generated"][o]["error"]) for r in first] for o in obs}
    plot_generative_check(args.temperatures, mc, gen, out / "generative_check",
                          ylabels={"energy": "<E>/N (units of J)", "abs_magnetization": "<|M|>/N"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
