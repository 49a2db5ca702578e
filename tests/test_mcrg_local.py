"""rbm.local.LocalRBM against the explicit dense RBM with the tied weight matrix."""

from __future__ import annotations

import numpy as np
import pytest

from rbm import RBM
from rbm.local import LocalRBM, LocalRBMStack, load_local_stack, save_local_stack


def make_local(L=8, b=2, w=4, seed=0):
    rng = np.random.default_rng(seed)
    m = LocalRBM(block=b, kernel_size=w, cd_k=2)
    m.kernel_ = rng.normal(0, 0.5, (w, w))
    m.hidden_bias_, m.visible_bias_ = 0.13, -0.07
    return m


def make_dense(local, L):
    W = local.dense_weights(L)
    d = RBM(n_components=W.shape[1], units="spin")
    d.weights_ = W
    d.visible_bias_ = np.full(W.shape[0], local.visible_bias_)
    d.hidden_bias_ = np.full(W.shape[1], local.hidden_bias_)
    d.n_features_in_ = W.shape[0]
    return d


def tie_masks(local, L):
    """masks[u, v] = dense matrix of the entries tied to kernel[u, v]."""
    w = local.kernel_size
    saved = local.kernel_
    masks = np.empty((w, w) + (L * L, (L // local.block) ** 2))
    for u in range(w):
        for v in range(w):
            local.kernel_ = np.zeros((w, w))
            local.kernel_[u, v] = 1.0
            masks[u, v] = local.dense_weights(L)
    local.kernel_ = saved
    return masks


@pytest.mark.parametrize("L,b,w", [(8, 2, 4), (6, 2, 3), (9, 3, 6), (8, 2, 2)])
def test_dense_equivalence(L, b, w):
    local = make_local(L, b, w, seed=L + w)
    dense = make_dense(local, L)
    masks = tie_masks(local, L)
    # every (visible, hidden) pair is tied to at most one kernel entry, each hidden sees w*w sites
    assert masks.sum(axis=(0, 1)).max() == 1 and np.all(masks.sum(axis=(0, 1, 2)) == w * w)
    rng = np.random.default_rng(1)
    n, m = 5, L // b
    V = rng.choice([-1, 1], size=(n, L, L)).astype(np.int8)
    H = rng.choice([-1, 1], size=(n, m, m)).astype(np.int8)
    Vf, Hf = V.reshape(n, -1).astype(float), H.reshape(n, -1).astype(float)
    np.testing.assert_allclose(local.energy(V, H), dense.energy(Vf, Hf), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(local.free_energy(V), dense.free_energy(Vf), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(local.mean_hidden(V).reshape(n, -1), dense.mean_hidden(Vf), atol=1e-12)
    np.testing.assert_allclose(local.mean_visible(H).reshape(n, -1), dense.mean_visible(Hf), atol=1e-12)
    # hidden free energy: F(h) = b.h - sum_i log 2cosh((c + W h)_i)
    act = Hf @ dense.weights_.T + dense.visible_bias_
    np.testing.assert_allclose(local.free_energy_hidden(H),
                               Hf @ dense.hidden_bias_ - np.logaddexp(act, -act).sum(axis=1), atol=1e-12)

    # CD-2 gradient with the same uniforms (hidden, then visible, per Gibbs step)
    grads, vk = local.gradients(V, seed=7)
    r = np.random.default_rng(7)
    W, c, bh = dense.weights_, dense.visible_bias_, dense.hidden_bias_

    def sample(x, u):
        return np.where(u < 1 / (1 + np.exp(2 * x)), 1.0, -1.0)  # P(+1) = sigmoid(-2x)

    v = Vf
    for _ in range(local.cd_k):
        h = sample(v @ W + bh, r.random((n, m * m)))
        v = sample(h @ W.T + c, r.random((n, L * L)))
    np.testing.assert_array_equal(vk.reshape(n, -1), v)
    hp, hn = -np.tanh(Vf @ W + bh), -np.tanh(v @ W + bh)
    dW = (v.T @ hn - Vf.T @ hp) / n  # -<dE/dW>_data + <dE/dW>_model
    np.testing.assert_allclose(grads["kernel"], np.einsum("uvij,ij->uv", masks, dW), atol=1e-12)
    np.testing.assert_allclose(grads["hidden_bias"], (hn.sum() - hp.sum()) / n, atol=1e-12)
    np.testing.assert_allclose(grads["visible_bias"], (v.sum() - Vf.sum()) / n, atol=1e-12)


def test_training_is_seeded_and_gauge_fixed(tmp_path):
    rng = np.random.default_rng(2)
    # correlated toy data: 2x2 blocks of equal spins
    blocks = rng.choice([-1, 1], size=(200, 4, 4)).astype(np.int8)
    X = np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    params = dict(block=2, kernel_size=4, n_epochs=3, batch_size=20, learning_rate=0.1)
    a = LocalRBMStack(2, rbm_params=params, random_state=5).fit(X)
    b = LocalRBMStack(2, rbm_params=params, random_state=5).fit(X)
    for la, lb in zip(a.layers_, b.layers_):
        np.testing.assert_array_equal(la.kernel_, lb.kernel_)
        assert la.kernel_.sum() < 0
    # the learned kernel concentrates on the block (window rows/cols 1..2 for w = 4, b = 2)
    k = np.abs(a.layers_[0].kernel_)
    assert k[1:3, 1:3].mean() > k.mean()
    path = tmp_path / "stack.npz"
    save_local_stack(path, a, meta={"L": 8})
    c, meta = load_local_stack(path)
    assert meta == {"L": 8}
    for la, lc in zip(a.layers_, c.layers_):
        np.testing.assert_array_equal(la.kernel_, lc.kernel_)
        assert la.hidden_bias_ == lc.hidden_bias_
    layer = a.layers_[0]
    np.testing.assert_array_equal(layer.sample_hidden(X, seed=1, chunk=7), layer.sample_hidden(X, seed=1))
    t = a.mcrg_transform(8)
    assert t(X[:3], 1).shape == (3, 4, 4) and t(X[:3, :4, :4], 1).shape == (3, 2, 2)


def test_checks():
    with pytest.raises(ValueError, match="kernel_size"):
        LocalRBM(block=3, kernel_size=2).fit(np.ones((4, 6, 6), dtype=np.int8))
    with pytest.raises(ValueError, match="multiple of block"):
        LocalRBM(block=2, kernel_size=2).fit(np.ones((4, 5, 5), dtype=np.int8))
    with pytest.raises(ValueError, match="-1 and"):
        LocalRBM().fit(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="not fitted"):
        LocalRBM().hidden_input(np.ones((1, 8, 8)))


def test_persistent_cd_seeded():
    rng = np.random.default_rng(3)
    blocks = rng.choice([-1, 1], size=(64, 4, 4)).astype(np.int8)
    X = np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    fits = [LocalRBM(block=2, kernel_size=4, n_epochs=2, batch_size=16, persistent=True, cd_k=2,
                     random_state=9).fit(X) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].kernel_, fits[1].kernel_)
    assert fits[0].history_["reconstruction_error"] == [None, None]
    assert np.all(np.isfinite(fits[0].kernel_)) and fits[0].kernel_.sum() < 0
