"""Generative correctness where exact answers exist: a single RBM on the 4x4 lattice.

The recipe of scripts/generative_check.py (CD-10, decaying learning rate, spin-flip
augmentation) must give Gibbs chains that agree from noise and from data (R-hat < 1.1) and
reproduce the exact <E>/N and <|M|>/N (enumeration of all 2^16 states) within the issue's targets
(2 % and 5 %) plus four of the error bars the analysis reports.
"""

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from ising.lattice import energy_per_spin, magnetization_per_spin

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generative_check.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("generative_check", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exact_4x4(temperature, n_samples, seed):
    c = np.array(list(itertools.product((-1, 1), repeat=16)), np.int8).reshape(-1, 4, 4)
    e = energy_per_spin(c, 1.0, 0.0, 2)
    w = np.exp(-16 * (e - e.min()) / temperature)
    p = w / w.sum()
    m = np.abs(magnetization_per_spin(c, 2))
    samples = c[np.random.default_rng(seed).choice(len(c), size=n_samples, p=p)]
    return samples, float((p * e).sum()), float((p * m).sum())


@pytest.mark.parametrize("temperature", [2.27])
def test_single_rbm_reproduces_exact_thermodynamics(temperature):
    gc = _load_script()
    spins, e_exact, m_exact = _exact_4x4(temperature, 3000, 0)
    res = gc.check_temperature(4, temperature, n_hidden=32, cd_k=10, n_epochs=60, spins=spins,
                               n_chains=100, n_gibbs=400, seed=1)
    assert res["equilibrated"], res["rhat"]
    gen = res["generated"]
    assert abs(gen["energy"]["value"] - e_exact) < 0.02 * abs(e_exact) + 4 * gen["energy"]["error"]
    assert abs(gen["abs_magnetization"]["value"] - m_exact) < \
        0.05 * m_exact + 4 * gen["abs_magnetization"]["error"]
    # the error bars are informative, not huge
    assert gen["energy"]["error"] < 0.03 * abs(e_exact)


def test_translation_augmentation_is_a_symmetry():
    gc = _load_script()
    spins, _, _ = _exact_4x4(2.5, 50, 3)
    aug = gc.augment_translations(spins, 2, np.random.default_rng(0))
    assert aug.shape == (150, 4, 4)
    np.testing.assert_array_equal(aug[:50], spins)
    np.testing.assert_allclose(energy_per_spin(aug[50:100], 1.0, 0.0, 2), energy_per_spin(spins, 1.0, 0.0, 2))
    np.testing.assert_allclose(np.sort(aug[100:].reshape(50, -1), 1), np.sort(spins.reshape(50, -1), 1))


def test_summary_of_repeated_models_uses_their_spread():
    gc = _load_script()

    def run(e, m, eq=True):
        return {"equilibrated": eq,
                "relative_error": {"energy": {"value": e, "error": 0.001},
                                   "abs_magnetization": {"value": m, "error": 0.002}}}

    one = gc.summarize_models([run(0.01, -0.02)])
    assert one["energy"] == {"value": 0.01, "error": 0.001, "spread": None}
    three = gc.summarize_models([run(0.02, 0.0), run(-0.01, 0.03), run(0.02, 0.03, eq=False)])
    values = np.array([0.02, -0.01, 0.02])
    assert three["energy"]["value"] == pytest.approx(values.mean())
    assert three["energy"]["spread"] == pytest.approx(values.std(ddof=1))
    assert three["energy"]["error"] == pytest.approx(values.std(ddof=1) / np.sqrt(3))
    assert three["n_models"] == 3 and three["equilibrated"] is False
