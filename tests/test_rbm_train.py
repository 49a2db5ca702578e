"""RBM training: kernels vs NumPy reference with the same random numbers, CD-k vs the exact
gradient, likelihood increase, PCD, checkpoint/resume identity, divergence handling."""

import numpy as np
import pytest

from rbm import RBM, TrainingDivergedError
from rbm.io import load_checkpoint
from rbm.train import CDTrainer
from tests import reference_rbm as ref

UNITS = ("binary", "spin")


def make_params(units, n_visible=6, n_hidden=4, seed=0, scale=0.5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    W = (scale * rng.standard_normal((n_visible, n_hidden))).astype(dtype)
    c = (0.3 * rng.standard_normal(n_visible)).astype(dtype)
    b = (0.3 * rng.standard_normal(n_hidden)).astype(dtype)
    return W, c, b


def make_data(units, n, n_visible, seed=0, p=0.4):
    x = (np.random.default_rng(seed).random((n, n_visible)) < p).astype(np.float64)
    return 2 * x - 1 if units == "spin" else x


def ising_chain_data(n_samples, n_spins=8, coupling=0.6, seed=0):
    """Exact samples of a periodic 1D Ising chain (enumeration), spins +-1."""
    vs = ref.states(n_spins, "spin")
    energy = -coupling * np.sum(vs * np.roll(vs, 1, axis=1), axis=1)
    p = np.exp(-energy)
    p /= p.sum()
    rng = np.random.default_rng(seed)
    return vs[rng.choice(len(vs), size=n_samples, p=p)]


@pytest.mark.parametrize("units", UNITS)
@pytest.mark.parametrize("k, persistent", [(1, False), (3, False), (2, True)])
def test_step_matches_reference_with_same_random_numbers(units, k, persistent):
    W, c, b = make_params(units)
    v0 = make_data(units, 7, 6, seed=1)
    n_chains = 5
    lr, mom, wd, l1 = 0.05, 0.5, 1e-3, 2e-3
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=7, cd_k=k,
                        persistent=persistent, n_chains=n_chains, flip_augmentation=False,
                        rng=np.random.default_rng(42))
    chains = None
    if persistent:
        chains = ref.states(4, units)[[1, 5, 9, 14, 3]].copy()
        trainer.chains[...] = chains
    ref_rng = ref.SplitMixUniforms(trainer.uniform_key)
    vel_w = np.zeros_like(W)
    vel_c = np.zeros_like(c)
    vel_b = np.zeros_like(b)
    Wr, cr, br = W.copy(), c.copy(), b.copy()
    for _ in range(3):  # several steps: momentum buffers matter
        trainer._vstack[:7] = v0
        err = trainer.step(7, lr, mom, wd, l1)
        dW, dc, db, vk, new_chains = ref.cd_step(v0, Wr, cr, br, units, k, ref_rng, chains)
        vel_w = mom * vel_w - lr * (dW + wd * Wr + l1 * np.sign(Wr))
        vel_c = mom * vel_c - lr * dc
        vel_b = mom * vel_b - lr * db
        Wr, cr, br = Wr + vel_w, cr + vel_c, br + vel_b
        if persistent:
            chains = new_chains
            np.testing.assert_array_equal(trainer.chains, chains)
            assert err is None
        else:
            assert err is not None and err >= 0
        np.testing.assert_allclose(trainer.weights, Wr, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(trainer.visible_bias, cr, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(trainer.hidden_bias, br, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(trainer.velocity_weights, vel_w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("units", UNITS)
def test_reconstruction_error_matches_reference(units):
    W, c, b = make_params(units)
    v0 = make_data(units, 9, 6, seed=2)
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=9, cd_k=1,
                        persistent=False, n_chains=9, flip_augmentation=False,
                        rng=np.random.default_rng(3))
    trainer._vstack[:9] = v0
    err = trainer.step(9, 0.0, 0.0, 0.0, 0.0)
    h0 = ref.sample_from_uniforms(v0 @ W + b,
                                  ref.SplitMixUniforms(trainer.uniform_key).random((9, 4)), units)
    expected = np.sum((v0 - ref.mean_visible(h0, W, c, units)) ** 2)
    assert err == pytest.approx(expected, rel=1e-12)


def test_float32_step_close_to_float64_reference():
    units = "spin"
    W, c, b = make_params(units, n_visible=20, n_hidden=8, dtype=np.float32, scale=0.1)
    v0 = make_data(units, 16, 20, seed=4).astype(np.float32)
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=16, cd_k=1,
                        persistent=False, n_chains=16, flip_augmentation=False,
                        rng=np.random.default_rng(5))
    trainer._vstack[:16] = v0
    trainer.step(16, 0.1, 0.0, 0.0, 0.0)
    dW, dc, db, _, _ = ref.cd_step(v0.astype(np.float64), W.astype(np.float64),
                                   c.astype(np.float64), b.astype(np.float64), units, 1,
                                   ref.SplitMixUniforms(trainer.uniform_key),
                                   uniform_dtype=np.float32)
    # uniforms are float32 in both; sampling decisions identical unless u ~ p within 1e-7
    np.testing.assert_allclose(trainer.weights, W - 0.1 * dW, atol=2e-6)


@pytest.mark.parametrize("units", UNITS)
def test_cd_k_approaches_exact_gradient_as_k_grows(units):
    """Exact expectation of the CD-k statistic (transition matrix power) vs the exact
    log-likelihood gradient: the error shrinks with k and vanishes for large k."""
    W, c, b = make_params(units, n_visible=5, n_hidden=3, seed=7, scale=1.0)
    data = make_data(units, 40, 5, seed=8, p=0.25)
    exact_dw, _, _ = ref.exact_log_likelihood_gradient(data, W, c, b, units)
    errors = [np.abs(ref.expected_cd_k_statistic(data, W, c, b, units, k) - exact_dw).max()
              for k in (1, 5, 50)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3 * errors[0]
    assert errors[0] > 1e-3  # CD-1 is genuinely biased here


@pytest.mark.parametrize("units", UNITS)
def test_trainer_statistic_is_unbiased_for_expected_cd1(units):
    """Average the kernels' CD-1 statistic over many steps (learning rate 0) and compare with
    its exact expectation, within 4 standard errors per entry."""
    W, c, b = make_params(units, n_visible=5, n_hidden=3, seed=7, scale=1.0)
    data = np.tile(make_data(units, 50, 5, seed=8, p=0.25), (8, 1))
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=400, cd_k=1,
                        persistent=False, n_chains=400, flip_augmentation=False,
                        rng=np.random.default_rng(9))
    n_steps = 400
    stats = np.empty((n_steps,) + W.shape)
    for s in range(n_steps):
        trainer._vstack[:400] = data
        trainer.step(400, 0.0, 0.0, 0.0, 0.0)
        stats[s] = trainer._stat
    np.testing.assert_array_equal(trainer.weights, W)  # learning rate 0: no change
    expected = ref.expected_cd_k_statistic(data, W, c, b, units, 1)
    mean = stats.mean(axis=0)
    sem = stats.std(axis=0, ddof=1) / np.sqrt(n_steps)
    assert np.all(np.abs(mean - expected) < 4 * sem + 1e-12)


@pytest.mark.parametrize("persistent", [False, True])
def test_training_increases_exact_log_likelihood(persistent):
    data = ising_chain_data(2000, n_spins=8, coupling=0.6, seed=1)
    # PCD needs the smaller step: with momentum 0.9 its fantasy chains cannot follow lr=0.05
    m = RBM(6, units="spin", n_epochs=15, batch_size=50, learning_rate=0.01 if persistent else 0.05,
            cd_k=1,
            persistent=persistent, monitor_size=2000, monitor_exact_max_units=16,
            random_state=3, dtype="float64")
    init = RBM(6, units="spin", n_epochs=1, random_state=3, dtype="float64", monitor_size=0)
    init.initialise(data)
    ll0 = ref.exact_mean_log_likelihood(data[:300], *map(np.asarray, (
        init.weights_, init.visible_bias_, init.hidden_bias_)), "spin")
    m.fit(data)
    ll1 = ref.exact_mean_log_likelihood(data[:300], m.weights_, m.visible_bias_, m.hidden_bias_,
                                        "spin")
    assert ll1 > ll0 + 0.15, (ll0, ll1)
    hist = m.history_["log_likelihood"]
    assert len(hist) == 15 and hist[-1] > hist[0]
    # the exact per-epoch monitor agrees with brute force on the full monitoring set
    assert hist[-1] == pytest.approx(m.score(data), abs=1e-9)
    assert all(np.isfinite(m.history_["pseudo_log_likelihood"]))


def test_fit_is_deterministic_and_float32_default():
    X = make_data("spin", 300, 10, seed=3)
    a = RBM(5, n_epochs=3, batch_size=32, random_state=11, flip_augmentation=True,
            learning_rate_schedule="linear").fit(X)
    b = RBM(5, n_epochs=3, batch_size=32, random_state=11, flip_augmentation=True,
            learning_rate_schedule="linear").fit(X)
    assert a.weights_.dtype == np.float32
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.history_["pseudo_log_likelihood"] == b.history_["pseudo_log_likelihood"]
    c = RBM(5, n_epochs=3, batch_size=32, random_state=12, flip_augmentation=True).fit(X)
    assert not np.array_equal(a.weights_, c.weights_)


def test_hinton_initialisation_and_schedules():
    X = make_data("binary", 400, 6, seed=5, p=0.2)
    m = RBM(3, units="binary", n_epochs=4, learning_rate=0.1, learning_rate_schedule="exponential",
            final_learning_rate=0.001, momentum_switch_epoch=2, random_state=0, monitor_size=0)
    m.initialise(np.asarray(X, np.float32))
    p = np.clip(X.mean(axis=0), 1e-3, 1 - 1e-3)
    # P(v_i = 1) = sigma(-c_i) reproduces the data means
    np.testing.assert_allclose(1 / (1 + np.exp(m.visible_bias_)), p, rtol=1e-5)
    assert np.all(m.hidden_bias_ == 0) and abs(np.std(m.weights_) - 0.01) < 0.005
    m.fit(X)
    np.testing.assert_allclose(m.history_["learning_rate"], [0.1, 0.1 * 0.01 ** (1 / 3),
                                                             0.1 * 0.01 ** (2 / 3), 0.001])
    assert m.history_["momentum"] == [0.5, 0.5, 0.9, 0.9]
    spin = RBM(3, units="spin", random_state=0)
    Xs = 2 * X - 1
    spin.initialise(np.asarray(Xs, np.float32))
    np.testing.assert_allclose(-np.tanh(spin.visible_bias_), Xs.mean(axis=0), atol=1e-5)


def test_partial_fit_continues_training():
    X = make_data("spin", 200, 8, seed=6)
    m = RBM(4, random_state=1, batch_size=20)
    assert m.partial_fit(X) is m
    w1 = m.weights_.copy()
    m.partial_fit(X)
    assert m.n_epochs_done_ == 2 and not np.array_equal(m.weights_, w1)
    # two partial_fit epochs == fit with n_epochs=2 (same seed, same streams)
    full = RBM(4, random_state=1, batch_size=20, n_epochs=2).fit(X)
    np.testing.assert_array_equal(full.weights_, m.weights_)


class _Killed(Exception):
    pass


@pytest.mark.parametrize("persistent", [False, True])
def test_checkpoint_resume_is_bit_identical(tmp_path, persistent):
    X = make_data("spin", 256, 12, seed=7)
    kw = dict(n_hidden=5, units="spin", n_epochs=5, batch_size=30, persistent=persistent,
              n_persistent_chains=17, cd_k=2, learning_rate_schedule="linear",
              flip_augmentation=True, momentum_switch_epoch=2, l1=1e-3, weight_decay=1e-3,
              random_state=21, monitor_size=64)
    full = RBM(**kw).fit(X, checkpoint=tmp_path / "full.ckpt")

    def kill_after_3(record):
        if record["epoch"] == 3:
            raise _Killed

    path = tmp_path / "run.ckpt"
    with pytest.raises(_Killed):
        RBM(**kw).fit(X, checkpoint=path, callback=kill_after_3)
    assert load_checkpoint(path)["meta"]["epoch"] == 3
    resumed = RBM(**kw).fit(X, checkpoint=path, resume=True)
    np.testing.assert_array_equal(resumed.weights_, full.weights_)
    np.testing.assert_array_equal(resumed.visible_bias_, full.visible_bias_)
    np.testing.assert_array_equal(resumed.hidden_bias_, full.hidden_bias_)
    for key in ("reconstruction_error", "pseudo_log_likelihood", "learning_rate", "momentum"):
        assert resumed.history_[key] == full.history_[key]
    final = load_checkpoint(path)
    np.testing.assert_array_equal(final["weights"], full.weights_)
    np.testing.assert_array_equal(final["trainer"]["velocity_weights"],
                                  full.trainer_.velocity_weights)


def test_resume_rejects_other_hyperparameters_or_data(tmp_path):
    X = make_data("spin", 100, 6, seed=8)
    path = tmp_path / "c.ckpt"
    RBM(3, n_epochs=2, random_state=0).fit(X, checkpoint=path)
    with pytest.raises(ValueError, match="different hyperparameters.*learning_rate"):
        RBM(3, n_epochs=2, random_state=0, learning_rate=0.5).fit(X, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="different training data"):
        RBM(3, n_epochs=2, random_state=0).fit(-X, checkpoint=path, resume=True)
    # constant schedule: more epochs continue the run
    longer = RBM(3, n_epochs=4, random_state=0).fit(X, checkpoint=path, resume=True)
    straight = RBM(3, n_epochs=4, random_state=0).fit(X)
    np.testing.assert_array_equal(longer.weights_, straight.weights_)


def test_divergence_raises_and_keeps_last_good_checkpoint(tmp_path):
    X = make_data("spin", 200, 10, seed=9)
    path = tmp_path / "d.ckpt"
    m = RBM(4, n_epochs=3, learning_rate=1e-3, learning_rate_schedule="exponential",
            final_learning_rate=1e300, random_state=0, monitor_size=20)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2 in layer 1"):
        m.fit(X, checkpoint=path, layer=1)
    good = load_checkpoint(path)
    assert good["meta"]["epoch"] == 1
    assert np.all(np.isfinite(good["weights"]))
    assert issubclass(TrainingDivergedError, ValueError)


def test_callback_receives_records():
    X = make_data("binary", 100, 6, seed=10)
    records = []
    RBM(3, units="binary", n_epochs=2, random_state=0).fit(X, callback=records.append, layer="a")
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[0]["n_epochs"] == 2 and records[0]["layer"] == "a"
    assert "reconstruction_error" in records[0]


_THREADS_SCRIPT = """
import sys, numpy as np
from rbm import RBM
rng = np.random.default_rng(0)
X = np.where(rng.random((400, 1000)) < 0.5, -1, 1).astype(np.int8)
m = RBM(256, n_epochs=2, batch_size=200, l1=2e-4, random_state=5, monitor_size=300,
        monitor_pll="exact").fit(X)
np.save(sys.argv[1], np.concatenate([m.weights_.ravel(),
                                     np.array(m.history_["pseudo_log_likelihood"])]))
"""


def test_same_bytes_at_any_thread_count(tmp_path):
    """1 and 2 Numba threads must give the same weights (training plus the monitoring with the
    exact, parallel pseudo-likelihood kernel above PARALLEL_MIN_ELEMENTS). OpenBLAS itself is
    pinned to one thread: its float32 GEMM results change with its own thread count, which is
    outside our kernels."""
    import os
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(_THREADS_SCRIPT)
    results = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, OPENBLAS_NUM_THREADS="1")
        out = tmp_path / f"w{threads}.npy"
        subprocess.run([sys.executable, str(script), str(out)], check=True, env=env,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       timeout=120)
        results.append(np.load(out))
    np.testing.assert_array_equal(results[0], results[1])


def test_flip_augmentation_flips_whole_samples_half_the_time():
    """Record the mini-batches the trainer sees: each sample is multiplied by one random global
    sign per epoch (about half flipped, binomial 4-sigma band); without the flag none is."""
    X = np.tile(make_data("spin", 50, 6, seed=11), (4, 1))
    X[:, 0] = 1  # so a sample is flipped iff its first spin is -1
    seen = {}
    for flip in (True, False):
        m = RBM(3, units="spin", n_epochs=1, batch_size=20, flip_augmentation=flip,
                random_state=4, monitor_size=0)
        data = np.ascontiguousarray(X, np.float32)
        trainer = m.initialise(data).trainer_
        batches = []
        original = trainer.step

        def recording_step(b, *args, _orig=original, _tr=trainer, _out=batches):
            _out.append(_tr._vstack[:b].copy())
            return _orig(b, *args)

        trainer.step = recording_step
        for epoch in range(5):
            trainer.run_epoch(data, 0.01, 0.5, 0.0, 0.0)
        seen[flip] = np.concatenate(batches)
    rows = {tuple(r) for r in X}
    for flip, batches in seen.items():
        n_flipped = 0
        for r in batches:
            original = r if r[0] == 1 else -r
            assert tuple(original) in rows  # the whole sample flipped, never part of it
            n_flipped += r[0] == -1
        if flip:
            n = len(batches)
            assert abs(n_flipped - n / 2) < 4 * np.sqrt(n / 4)
            assert n_flipped > 0
        else:
            assert n_flipped == 0
    # initialisation uses the symmetrised (zero) means
    m = RBM(3, units="spin", flip_augmentation=True, random_state=0)
    m.initialise(np.ones((10, 6), np.float32))
    np.testing.assert_array_equal(m.visible_bias_, 0.0)


@pytest.mark.parametrize("units, low", [("binary", 0.0), ("spin", -1.0)])
def test_allow_fractional_data(units, low):
    """Mean-field data (unit means) are refused by default and accepted on request; the CD
    statistics then use the means themselves (checked against the reference step)."""
    rng = np.random.default_rng(12)
    X = low + (1 - low) * rng.random((60, 5))
    with pytest.raises(ValueError, match="must contain only"):
        RBM(3, units=units, n_epochs=1).fit(X)
    with pytest.raises(ValueError, match=r"must lie in \[" ):
        RBM(3, units=units, n_epochs=1).fit(X + 2, allow_fractional=True)
    for pll in ("random", "exact"):
        m = RBM(3, units=units, n_epochs=2, persistent=pll == "exact", monitor_pll=pll,
                monitor_size=30, random_state=0, dtype="float64").fit(X, allow_fractional=True)
        assert all(np.isfinite(m.history_["pseudo_log_likelihood"]))
        assert all(np.isfinite(m.history_["reconstruction_error"]))
    W, c, b = make_params(units, n_visible=5, n_hidden=3)
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=60, cd_k=1,
                        persistent=False, n_chains=60, flip_augmentation=False,
                        rng=np.random.default_rng(1))
    trainer._vstack[:60] = X
    trainer.step(60, 0.1, 0.0, 0.0, 0.0)
    dW, _, _, _, _ = ref.cd_step(X, W, c, b, units, 1, ref.SplitMixUniforms(trainer.uniform_key))
    np.testing.assert_allclose(trainer.weights, W - 0.1 * dW, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("units", UNITS)
def test_pcd_statistic_converges_to_exact_gradient(units):
    """With a frozen model (learning rate 0) the persistent chains sample p_model, so the PCD
    statistic averaged over steps is the exact <vh>_data - <vh>_model (block-mean error bars)."""
    W, c, b = make_params(units, n_visible=5, n_hidden=3, seed=7, scale=1.0)
    data = make_data(units, 50, 5, seed=8, p=0.25)
    exact_dw, exact_dc, exact_db = ref.exact_log_likelihood_gradient(data, W, c, b, units)
    trainer = CDTrainer(W.copy(), c.copy(), b.copy(), units=units, batch_size=50, cd_k=1,
                        persistent=True, n_chains=200, flip_augmentation=False,
                        rng=np.random.default_rng(13))
    trainer.init_chains(data)
    n_burn, n_steps = 50, 600
    stats = np.empty((n_steps,) + W.shape)
    stats_c = np.empty((n_steps, 5))
    for s in range(n_burn + n_steps):
        trainer._vstack[:50] = data
        trainer.step(50, 0.0, 0.0, 0.0, 0.0)
        if s >= n_burn:
            stats[s - n_burn] = trainer._stat
            stats_c[s - n_burn] = trainer._stat_v
    for series, exact in ((stats, exact_dw), (stats_c, exact_dc)):
        blocks = series.reshape(20, -1, *series.shape[1:]).mean(axis=1)
        mean = blocks.mean(axis=0)
        sem = blocks.std(axis=0, ddof=1) / np.sqrt(20)
        assert np.all(np.abs(mean - exact) < 4 * sem + 1e-12), np.max(np.abs(mean - exact) / sem)


def test_gibbs_uniform_stream_matches_splitmix64_reference():
    """The trainer's counter-based uniforms: known SplitMix64 outputs, the slow reference for
    odd/even float32 buffers and float64, and the counter carried from fill to fill."""
    from rbm._kernels import uniform_fill

    reference = ref.SplitMixUniforms(1234567)
    # SplitMix64 seeded with 1234567 (Rosetta Code "Pseudo-random numbers/Splitmix64")
    assert [reference.draw() for _ in range(3)] == [6457827717110365317, 3203168211198807973,
                                                    9817491932198370423]
    key = 0xDEADBEEF12345678
    reference = ref.SplitMixUniforms(key)
    counter = 0
    for shape, dtype in (((3, 5), np.float32), ((4, 6), np.float32), ((7,), np.float64),
                         ((2, 3), np.float32)):
        out = np.empty(shape, dtype)
        counter = uniform_fill(key, counter, out)
        np.testing.assert_array_equal(out, reference.random(shape, dtype))
        assert counter == reference.counter
    with pytest.raises(ValueError, match="C-contiguous"):
        uniform_fill(key, 0, np.empty((4, 4), np.float32)[:, ::2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gibbs_uniforms_are_uniform(dtype):
    """Moments and a chi-square histogram test of 10^6 uniforms in [0, 1)."""
    from scipy import stats

    from rbm._kernels import uniform_fill

    u = np.empty(1_000_000, dtype)
    uniform_fill(2024, 0, u)
    assert u.min() >= 0.0 and u.max() < 1.0
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(np.mean((u - 0.5) ** 2) - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    counts = np.histogram(u, bins=100, range=(0.0, 1.0))[0]
    assert stats.chisquare(counts).pvalue > 1e-4
    # neighbouring values (the two halves of one draw in float32) are uncorrelated
    half = n // 2
    assert abs(np.corrcoef(u[:half], u[half:])[0, 1]) < 5 / np.sqrt(half)


def test_column_means_equal_numpy_mean_bit_for_bit():
    from rbm._kernels import column_means

    rng = np.random.default_rng(3)
    for values in ([-1, 1], [0, 1]):
        x = rng.choice(values, size=(1001, 13), p=[0.3, 0.7]).astype(np.int8)
        np.testing.assert_array_equal(column_means(x), x.mean(axis=0, dtype=np.float64))


@pytest.mark.parametrize("source_dtype", [np.int8, np.float32, np.float64])
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64])
def test_gather_rows_matches_numpy_take_with_flips(source_dtype, out_dtype):
    from rbm._kernels import gather_rows

    rng = np.random.default_rng(5)
    data = rng.choice([-1, 1], size=(50, 9)).astype(source_dtype)
    rows = rng.permutation(50)[:12]
    out = np.empty((12, 9), out_dtype)
    gather_rows(data, rows, np.empty(0, out_dtype), out)
    np.testing.assert_array_equal(out, data[rows].astype(out_dtype))
    signs = np.where(rng.random(50) < 0.5, -1.0, 1.0).astype(out_dtype)
    gather_rows(data, rows, signs, out)
    np.testing.assert_array_equal(out, (signs[rows, None] * data[rows]).astype(out_dtype))
