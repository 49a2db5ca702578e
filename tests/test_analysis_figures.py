"""Every figure function writes a valid PNG and PDF from synthetic inputs."""

import numpy as np

from analysis import figures
from analysis.thermodynamics import Estimate


def _check(paths):
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert png.stat().st_size > 2000 and pdf.stat().st_size > 1000
    assert not list(png.parent.glob(".*.tmp"))


def test_all_figures(tmp_path):
    rng = np.random.default_rng(0)
    L = 8
    fields = [rng.normal(size=(L * L, 16)), rng.normal(size=(L * L, 4))]
    _check(figures.plot_receptive_fields(fields, (L, L), tmp_path / "rf", n_units=3))
    _check(figures.plot_localization([rng.random(16), rng.random(4)],
                                     [rng.random(16), rng.random(4)], tmp_path / "loc"))
    s = rng.choice([-1, 1], size=(3, L, L))
    _check(figures.plot_reconstructions(s, [rng.random((3, L, L)) * 2 - 1], tmp_path / "rec"))
    scan = {"block_sizes": [1, 2, 4], "fidelity": [0.3, 0.6, 0.4], "fidelity_error": [0.01] * 3,
            "ceiling": [1.0, 0.8, 0.75], "best_block_size": 2}
    _check(figures.plot_fidelity([scan, scan], tmp_path / "fid",
                                 nulls={"untrained": [scan, scan], "shuffled": [scan, scan]}))
    _check(figures.plot_correlation_lengths([1.0, 0.5], [0.1, 0.05], 2.0, 0.1, [2.0, 4.0],
                                            tmp_path / "xi", block_xi={2: Estimate(1.0, 0.1)}))
    r = np.arange(5)
    _check(figures.plot_correlation_functions({"MC": (r, np.exp(-r)), "RBM": (r, np.exp(-r / 2), 0.01 * r)},
                                              tmp_path / "g"))
    rel = {"energy": {"value": 0.01, "error": 0.005}, "abs_magnetization": {"value": -0.02, "error": 0.01}}
    _check(figures.plot_thermodynamics({"RBM 1": rel, "stack": rel}, tmp_path / "thermo"))
    _check(figures.plot_rbm_flow(np.arange(4), [[3, 2.6, 2.4, 2.3], [1.5, 2.0, 2.2, 2.25]],
                                 [3.0, 1.5], tmp_path / "flow", critical_temperature=2.269))
    _check(figures.plot_generative_check([2.0, 3.0], {"energy": [(-1.7, 0.01), (-0.8, 0.01)]},
                                         {"energy": [(-1.68, 0.01), (-0.81, 0.01)]}, tmp_path / "gen"))
    layer = {"block_fidelity": 0.6, "block_fidelity_error": 0.01,
             "block_fidelity_null": {"untrained": 0.4, "shuffled": 0.5}}
    rows = [{"temperature": t, "layers": [layer, layer], "kl_per_spin_layer1": {"value": 0.05, "error": 0.01}}
            for t in (2.0, 2.5, 3.0)]
    _check(figures.plot_temperature_study(rows, tmp_path / "study"))
