"""ising.exact against brute-force enumeration and Onsager's thermodynamic limit."""

import math
import warnings

import numpy as np
import pytest

from ising import exact as ex
from tests.reference_exact import (
    brute_force_1d,
    brute_force_2d,
    brute_force_correlation_1d,
    slow_kaufman_log_partition,
)

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))
# both sides of T_c, T_c itself and extremes
TEMPS_2D = [0.5, 0.8, 1.2, 1.8, 2.2, TC, 2.3, 2.6, 3.5, 5.0, 10.0]


def rel(a, b):
    return abs(a - b) / abs(b)


def test_critical_point():
    assert ex.critical_temperature() == pytest.approx(2.269185314213022, rel=1e-15)
    assert ex.critical_coupling() == pytest.approx(0.44068679350977147, rel=1e-15)
    assert ex.critical_temperature(2.5) == pytest.approx(2.5 * 2.269185314213022, rel=1e-15)
    assert math.sinh(2 * ex.critical_coupling()) == pytest.approx(1.0, rel=1e-15)
    with pytest.raises(ValueError, match="coupling"):
        ex.critical_temperature(-1.0)


def test_spontaneous_magnetization():
    assert ex.spontaneous_magnetization(TC * 1.0001) == 0.0
    assert ex.spontaneous_magnetization(5.0) == 0.0
    assert ex.spontaneous_magnetization(0.1) == pytest.approx(1.0, abs=1e-15)
    # Yang's formula at T = 2: (1 - sinh(1)^-4)^(1/8)
    assert ex.spontaneous_magnetization(2.0) == pytest.approx((1 - math.sinh(1.0) ** -4) ** 0.125)
    t = np.array([1.0, 2.0, 2.2, 2.26, 3.0])
    m = ex.spontaneous_magnetization(t)
    assert m.shape == t.shape and np.all(np.diff(m) <= 0) and m[-1] == 0.0
    # critical exponent beta = 1/8: M ~ (4 sqrt2 ln(1+sqrt2) (1 - T/T_c))^(1/8) near T_c
    eps = 1e-8
    assert ex.spontaneous_magnetization(TC * (1 - eps)) == pytest.approx(
        (4 * math.sqrt(2) * math.log(1 + math.sqrt(2)) * eps) ** 0.125, rel=1e-5)
    # scales with J: M depends on T/J only
    assert ex.spontaneous_magnetization(4.0, coupling=2.0) == ex.spontaneous_magnetization(2.0)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (4, 3), (4, 4), (2, 5)])
def test_kaufman_vs_enumeration(shape):
    m, n = shape
    for t in TEMPS_2D:
        log_z, energy, heat = brute_force_2d(m, n, t)
        assert rel(ex.log_partition_2d(m, n, t), log_z) < 1e-12, t
        assert rel(ex.energy_per_spin_2d(m, n, t), energy) < 1e-12, t
        assert rel(ex.specific_heat_per_spin_2d(m, n, t), heat) < 1e-10, t
    # the literal (overflow-prone) evaluation of the same formula agrees for small lattices
    assert rel(slow_kaufman_log_partition(m, n, 1.7), brute_force_2d(m, n, 1.7)[0]) < 1e-12


def test_kaufman_vectorised_and_coupling():
    t = np.array([[0.7, 1.5], [2.4, 6.0]])
    e = ex.energy_per_spin_2d(4, 4, t, coupling=1.5)
    assert e.shape == (2, 2)
    for idx in np.ndindex(t.shape):
        _, ref, _ = brute_force_2d(4, 4, t[idx], coupling=1.5)
        assert rel(e[idx], ref) < 1e-12
    # J scaling: e(T, J) = J e(T/J, 1), C(T, J) = C(T/J, 1)
    assert ex.energy_per_spin_2d(8, 8, 3.0, 1.5) == pytest.approx(
        1.5 * ex.energy_per_spin_2d(8, 8, 2.0), rel=1e-14)
    assert ex.specific_heat_per_spin_2d(8, 8, 3.0, 1.5) == pytest.approx(
        ex.specific_heat_per_spin_2d(8, 8, 2.0), rel=1e-13)
    assert isinstance(ex.log_partition_2d(4, 4, 2.0), float)


def test_derivatives_consistent_with_log_z():
    # analytic derivatives vs high-order finite differences of ln Z (independent check at L = 32)
    L, t, h = 32, 2.4, 2e-4
    k = 1.0 / t

    def lnz(kk):
        return ex.log_partition_2d(L, L, 1.0 / kk)

    d1 = (lnz(k - 2 * h) - 8 * lnz(k - h) + 8 * lnz(k + h) - lnz(k + 2 * h)) / (12 * h)
    assert rel(ex.energy_per_spin_2d(L, L, t), -d1 / L ** 2) < 1e-8
    d2 = (-lnz(k - 2 * h) + 16 * lnz(k - h) - 30 * lnz(k) + 16 * lnz(k + h) - lnz(k + 2 * h)) \
        / (12 * h * h)
    assert rel(ex.specific_heat_per_spin_2d(L, L, t), k * k * d2 / L ** 2) < 1e-5


@pytest.mark.parametrize("L", [128, 256])
def test_large_lattices_finite_and_near_infinite(L):
    t = np.linspace(0.5, 10.0, 200)
    t = np.concatenate([t, [TC, TC * (1 + 1e-12), TC * (1 - 1e-12)]])
    lz = ex.log_partition_2d(L, L, t)
    e = ex.energy_per_spin_2d(L, L, t)
    c = ex.specific_heat_per_spin_2d(L, L, t)
    assert np.all(np.isfinite(lz)) and np.all(np.isfinite(e)) and np.all(np.isfinite(c))
    assert np.all(c > 0) and np.all(e < 0) and np.all(e >= -2.0)
    away = np.abs(t - TC) > 0.4
    n = L * L
    # free energy: the only finite-size term away from T_c is the ground-state doubling below T_c
    f_inf = ex.free_energy_per_spin_infinite(t[away])
    degeneracy = np.where(t[away] < TC, np.log(2.0) / n, 0.0)
    np.testing.assert_allclose(lz[away] / n, -f_inf / t[away] + degeneracy, rtol=0, atol=1e-11)
    np.testing.assert_allclose(e[away], ex.energy_per_spin_infinite(t[away]), rtol=0, atol=1e-11)
    np.testing.assert_allclose(c[away], ex.specific_heat_per_spin_infinite(t[away]), rtol=0,
                               atol=1e-10)
    # Ferdinand-Fisher: the finite-lattice C peak is near T_c and grows like (8/pi) K_c^2 ln L
    fine = np.linspace(2.2, 2.35, 301)
    cf = ex.specific_heat_per_spin_2d(L, L, fine)
    assert abs(fine[np.argmax(cf)] - TC) < 0.02
    assert ex.energy_per_spin_2d(L, L, TC) == pytest.approx(-math.sqrt(2), abs=2 / L)


def test_largest_lattice_stable():
    e = ex.energy_per_spin_2d(1024, 1024, np.array([0.5, TC, 4.0]))
    assert np.all(np.isfinite(e))
    assert e[0] == pytest.approx(ex.energy_per_spin_infinite(0.5), rel=1e-12)


def test_onsager_infinite_consistency():
    t = np.array([0.8, 1.5, 2.0, 2.6, 4.0, 8.0])
    h = 1e-5
    # u = d(beta f)/d beta, C = du/dT
    bf = lambda b: b * ex.free_energy_per_spin_infinite(1.0 / b)  # noqa: E731
    b = 1.0 / t
    u_fd = (bf(b + h) - bf(b - h)) / (2 * h)
    np.testing.assert_allclose(ex.energy_per_spin_infinite(t), u_fd, rtol=1e-8)
    c_fd = (ex.energy_per_spin_infinite(t + h) - ex.energy_per_spin_infinite(t - h)) / (2 * h)
    np.testing.assert_allclose(ex.specific_heat_per_spin_infinite(t), c_fd, rtol=1e-7)
    # known values: u(T_c) = -sqrt(2) J; high-T series u = -2 tanh K (1 + O(K^2))... at T=100
    assert ex.energy_per_spin_infinite(TC) == pytest.approx(-math.sqrt(2), rel=1e-12)
    assert ex.energy_per_spin_infinite(100.0) == pytest.approx(-2 * math.tanh(0.01), rel=1e-3)
    assert ex.specific_heat_per_spin_infinite(TC * (1 + 1e-6)) > 5.0


def test_low_temperature_limits():
    # low-T expansion ln Z/N = 2K + e^{-8K} + O(e^{-12K}): u = -2 + 8 e^{-8K}, C = 64 K^2 e^{-8K}
    for t in [0.1, 0.15]:
        k = 1.0 / t
        assert ex.specific_heat_per_spin_infinite(t) == pytest.approx(
            64 * k * k * math.exp(-8 * k), rel=1e-9)
        assert ex.energy_per_spin_infinite(t) + 2.0 == pytest.approx(8 * math.exp(-8 * k),
                                                                     rel=1e-4)
    # down to T -> 0 (ground state beyond K = 300): finite, no overflow warnings
    t = np.array([0.001, 0.003, 0.0034, 0.01, 0.05, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for L in (4, 64):
            lz = ex.log_partition_2d(L, L, t)
            np.testing.assert_allclose(lz, 2 * L * L / t + math.log(2.0), rtol=1e-15)
            np.testing.assert_allclose(ex.energy_per_spin_2d(L, L, t), -2.0, rtol=1e-15)
            assert np.all(np.abs(ex.specific_heat_per_spin_2d(L, L, t)) < 1e-13)
        np.testing.assert_allclose(ex.free_energy_per_spin_infinite(t), -2.0, rtol=1e-15)
        np.testing.assert_allclose(ex.energy_per_spin_infinite(t), -2.0, rtol=1e-15)
        c = ex.specific_heat_per_spin_infinite(t)
        assert np.all(c >= 0) and np.all(c < 1e-13)


def test_2d_validation():
    with pytest.raises(ValueError, match="temperature"):
        ex.energy_per_spin_2d(4, 4, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        ex.log_partition_2d(4, 4, [1.0, np.nan])
    with pytest.raises(ValueError, match="m must be"):
        ex.log_partition_2d(1, 4, 1.0)
    with pytest.raises(ValueError, match="n must be"):
        ex.log_partition_2d(4, 2.5, 1.0)
    with pytest.raises(ValueError, match="coupling"):
        ex.specific_heat_per_spin_2d(4, 4, 1.0, coupling=0.0)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 11])
@pytest.mark.parametrize("coupling,field", [(1.0, 0.0), (1.0, 0.4), (0.5, -1.0), (-1.0, 0.3),
                                            (0.0, 0.7)])
def test_1d_vs_enumeration(n, coupling, field):
    temps = [0.2, 0.5, 1.0, 2.0, 7.0]
    if coupling < 0 and n % 2:
        # frustrated odd antiferromagnetic ring: lambda_- -> -lambda_+ at low T and the
        # derivatives lose digits (documented); 1e-10 holds from T = 0.5 (|K| = 2) up
        temps = temps[1:]
    for t in temps:
        log_z, energy, heat = brute_force_1d(n, t, coupling, field)
        assert rel(ex.log_partition_1d(n, t, coupling, field), log_z) < 1e-12
        assert abs(ex.energy_per_spin_1d(n, t, coupling, field) - energy) < 1e-12 * max(
            1.0, abs(energy))
        assert rel(ex.specific_heat_per_spin_1d(n, t, coupling, field), heat) < 1e-10, t


def test_1d_infinite_chain_and_large_n():
    t = np.array([0.3, 1.0, 4.0])
    k = 1.0 / t
    np.testing.assert_allclose(ex.energy_per_spin_1d(None, t), -np.tanh(k), rtol=1e-14)
    np.testing.assert_allclose(ex.specific_heat_per_spin_1d(None, t), (k / np.cosh(k)) ** 2,
                               rtol=1e-13)
    np.testing.assert_allclose(ex.log_partition_1d(None, t), np.log(2 * np.cosh(k)), rtol=1e-14)
    np.testing.assert_allclose(ex.energy_per_spin_1d(100_000, t), -np.tanh(k), rtol=1e-13)
    # zero-field periodic closed form: Z = (2 cosh K)^N + (2 sinh K)^N
    n = 50
    lz = n * np.log(2 * np.cosh(k)) + np.log1p(np.tanh(k) ** n)
    np.testing.assert_allclose(ex.log_partition_1d(n, t), lz, rtol=1e-14)
    # field, infinite chain: ln lambda_+ = K + ln(cosh H + sqrt(sinh^2 H + e^{-4K}))
    hh = 0.3 / t
    lam = k + np.log(np.cosh(hh) + np.sqrt(np.sinh(hh) ** 2 + np.exp(-4 * k)))
    np.testing.assert_allclose(ex.log_partition_1d(None, t, field=0.3), lam, rtol=1e-14)
    # very low temperature: still finite
    assert np.isfinite(ex.specific_heat_per_spin_1d(2000, 0.02))


@pytest.mark.parametrize("n", [4, 7, 10])
def test_correlation_1d_vs_enumeration(n):
    for t in [0.4, 1.3, 5.0]:
        for r in range(n + 1):
            assert ex.correlation_1d(n, t, r) == pytest.approx(
                brute_force_correlation_1d(n, t, r % n), abs=1e-13)
        for r in range(n):
            assert ex.correlation_1d(n, t, r, periodic=False) == pytest.approx(
                brute_force_correlation_1d(n, t, r, periodic=False), abs=1e-13)


def test_correlation_1d_broadcast_and_validation():
    t = np.array([1.0, 2.0])[:, None]
    r = np.arange(5)
    c = ex.correlation_1d(None, t, r)
    np.testing.assert_allclose(c, np.tanh(1.0 / t) ** r, rtol=1e-15)
    assert ex.correlation_1d(10, 1.0, 0) == 1.0 and ex.correlation_1d(10, 1.0, 10) == 1.0
    with pytest.raises(ValueError, match="distance"):
        ex.correlation_1d(10, 1.0, 11)
    with pytest.raises(ValueError, match="distance"):
        ex.correlation_1d(10, 1.0, -1)
    with pytest.raises(ValueError, match="integer"):
        ex.correlation_1d(10, 1.0, 1.5)
    with pytest.raises(ValueError, match="n must be"):
        ex.correlation_1d(1, 1.0, 0)
