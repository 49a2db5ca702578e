"""Tests of analysis.fss on synthetic finite-size-scaling data with a known answer.

Synthetic Binder cumulants obey exact scaling, U_L(T) = f((T - T_c) L^{1/nu}), so every pair of
curves crosses exactly at T_c; Gaussian noise of the stated error bars is added with fixed seeds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis import fss

TC = 2.3  # deliberately not the Ising value: the code must find it, not assume it
SIZES = (8, 16, 32)
TEMPS = np.linspace(2.15, 2.45, 12)


def binder_f(x):
    return 0.61 - 0.3 * np.tanh(0.4 * x)


def chi_g(x):
    return np.exp(-((x - 0.8) ** 2) / 18.0)  # broad peak at x = 0.8


def make_table(seed, *, rel=0.004, tc=TC, sizes=SIZES, temps=TEMPS, n_seeds=1):
    rng = np.random.default_rng(seed)
    cols = {k: [] for k in ("size", "temperature", "binder", "binder_error", "susceptibility",
                            "susceptibility_error", "abs_magnetization",
                            "abs_magnetization_error")}
    for L in sizes:
        for t in temps:
            for _ in range(n_seeds):
                x = (t - tc) * L
                exact = {"binder": binder_f(x), "susceptibility": L ** 1.75 * chi_g(x),
                         "abs_magnetization": L ** -0.125 * 0.5 * (1 - np.tanh(x / 3))}
                cols["size"].append(L)
                cols["temperature"].append(t)
                for name, value in exact.items():
                    err = rel * abs(value) + 1e-4
                    cols[name].append(value + err * rng.standard_normal())
                    cols[name + "_error"].append(err)
    return {k: np.array(v) for k, v in cols.items()}


def binder_curves(table):
    return fss.curves_from_table(table["size"], table["temperature"], table["binder"],
                                 table["binder_error"])


def test_curves_from_table_combines_seeds():
    size = np.array([8, 8, 8, 16])
    temp = np.array([2.0, 2.0, 2.1, 2.0])
    value = np.array([1.0, 2.0, 3.0, 4.0])
    error = np.array([1.0, 2.0, 1.0, 1.0])
    curves = fss.curves_from_table(size, temp, value, error)
    assert sorted(curves) == [8, 16]
    c = curves[8]
    np.testing.assert_allclose(c.temperature, [2.0, 2.1])
    # inverse-variance mean of 1 +- 1 and 2 +- 2: (1 + 2/4) / (1 + 1/4) = 1.2, error 1/sqrt(1.25)
    np.testing.assert_allclose(c.value, [1.2, 3.0])
    np.testing.assert_allclose(c.error, [1 / math.sqrt(1.25), 1.0])
    with pytest.raises(ValueError):
        fss.curves_from_table(size, temp, value * np.nan, error)


def test_noise_free_crossing_is_exact():
    table = make_table(0, rel=1e-9)
    result = fss.binder_crossing(binder_curves(table), n_bootstrap=100, seed=1)
    assert abs(result.temperature - TC) < 2e-4
    for pair in result.pairs:
        assert abs(pair.temperature - TC) < 2e-4
        assert abs(pair.binder - binder_f(0.0)) < 1e-3


@pytest.mark.parametrize("method", ["largest", "weighted"])
def test_crossing_error_bar_is_calibrated(method):
    """z = (T_est - T_c) / sigma over independent noise realisations is ~ N(0, 1)."""
    z = []
    for seed in range(30):
        result = fss.binder_crossing(binder_curves(make_table(seed)), n_bootstrap=300,
                                     seed=seed + 1000, method=method)
        assert result.error > 0 and result.method == method
        z.append((result.temperature - TC) / result.error)
    z = np.array(z)
    assert abs(z.mean()) < 4 / math.sqrt(len(z))  # no bias beyond 4 sigma of the mean
    assert 0.6 < z.std(ddof=1) < 1.5              # error bars neither too small nor too large
    assert np.all(np.abs(z) < 4.5)


def test_crossing_with_several_seeds_and_pairs():
    table = make_table(3, n_seeds=3)
    result = fss.binder_crossing(binder_curves(table), n_bootstrap=500, seed=2)
    assert [p.sizes for p in result.pairs] == [(8, 16), (16, 32)]
    assert abs(result.temperature - TC) < 4 * result.error
    assert (result.temperature, result.error) == (result.pairs[-1].temperature,
                                                  result.pairs[-1].error)
    # the weighted mean is at least as precise as the best pair
    assert result.weighted[1] <= min(p.error for p in result.pairs) * 1.05
    assert abs(result.weighted[0] - TC) < 4 * result.weighted[1]


def test_largest_pair_has_the_smallest_finite_size_bias():
    """With a correction to scaling U_L(T_c) = U* + a L^-2 the crossings of small sizes are
    shifted below T_c; the largest pair is the least biased."""
    table = make_table(0, rel=1e-9)
    table["binder"] = table["binder"] + 0.4 * table["size"].astype(float) ** -2.0
    result = fss.binder_crossing(binder_curves(table), n_bootstrap=100)
    shifts = [p.temperature - TC for p in result.pairs]
    assert shifts[0] < shifts[1] < 0
    assert abs(result.temperature - TC) == pytest.approx(abs(shifts[1]))
    assert abs(result.weighted[0] - TC) > abs(result.temperature - TC)


def test_no_crossing_and_bad_input():
    shifted = make_table(0)
    big = shifted["size"] == 32
    shifted["binder"][big] = shifted["binder"][big] + 0.5  # L=32 curve above the others
    with pytest.raises(ValueError, match="do not cross"):
        fss.binder_crossing(binder_curves(shifted), n_bootstrap=50)
    single = make_table(0, sizes=(8,))
    with pytest.raises(ValueError, match="two sizes"):
        fss.binder_crossing(binder_curves(single), n_bootstrap=50)
    with pytest.raises(ValueError):
        fss.binder_crossing(binder_curves(make_table(0)), n_bootstrap=5)
    # analyze() keeps going without a crossing unless asked not to
    result = fss.analyze(shifted, n_bootstrap=50)
    assert result.crossing is None and "do not cross" in result.note
    assert "no Binder crossing" in result.report()
    with pytest.raises(ValueError):
        fss.analyze(shifted, n_bootstrap=50, require_crossing=True)


def test_susceptibility_peaks_and_gamma_over_nu():
    table = make_table(5, rel=0.002)
    curves = fss.curves_from_table(table["size"], table["temperature"], table["susceptibility"],
                                   table["susceptibility_error"])
    peaks = fss.susceptibility_peaks(curves, n_bootstrap=500, seed=3)
    for p in peaks:
        assert p.bracketed
        # exact peak: x* = 0.8, chi_max = L^1.75; parabola bias allowed at the percent level
        assert abs(p.temperature - (TC + 0.8 / p.size)) < 0.02
        assert abs(p.height / p.size ** 1.75 - 1) < 0.03
    k, dk, _ = fss.power_law_exponent([p.size for p in peaks], [p.height for p in peaks],
                                      [p.height_error for p in peaks])
    assert abs(k - 1.75) < 0.03 and dk > 0
    # a monotonic curve has no bracketed peak
    mono = fss.Curve(8, TEMPS, np.linspace(1, 2, len(TEMPS)), np.full(len(TEMPS), 0.01))
    (p,) = fss.susceptibility_peaks({8: mono}, n_bootstrap=50)
    assert not p.bracketed and p.temperature == TEMPS[-1]


def test_power_law_exponent_exact():
    L = np.array([8, 16, 32, 64])
    k, dk, a = fss.power_law_exponent(L, 3.0 * L ** 1.75, 0.01 * L ** 1.75)
    assert k == pytest.approx(1.75, abs=1e-10) and a == pytest.approx(3.0, rel=1e-10)
    with pytest.raises(ValueError):
        fss.power_law_exponent([8], [1.0], [0.1])


def test_collapse_quality_detects_wrong_tc():
    table = make_table(7, rel=0.01)
    curves = binder_curves(table)
    good = fss.collapse_quality(curves, tc=TC, nu=1.0)
    bad = fss.collapse_quality(curves, tc=TC + 0.03, nu=1.0)
    assert good < 2.0
    assert bad > 5 * good
    x, y = fss.scaling_coordinates([2.4], [16], [2.0], tc=2.3, nu=1.0, exponent=-1.75)
    assert x[0] == pytest.approx(1.6) and y[0] == pytest.approx(2.0 * 16 ** -1.75)


def test_analyze_and_plot(tmp_path):
    result = fss.analyze(make_table(11), n_bootstrap=200, seed=4)
    assert abs(result.crossing.temperature - TC) < 4 * result.crossing.error
    assert result.gamma_over_nu is not None
    text = result.report()
    assert "Binder crossing" in text and "gamma/nu" in text
    json.dumps(result.as_dict(), allow_nan=False)  # JSON-ready
    files = fss.plot_fss(result, tmp_path / "fig" / "fss.png")
    assert sorted(f.suffix for f in files) == [".pdf", ".png"]
    for f in files:
        assert f.stat().st_size > 1000
    with open(files[0], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
