"""The Hinton-Salakhutdinov recipe (rbm.m) against a line-by-line float64 transcription of rbm.m
fed the same random numbers, the pipeline's recipe plumbing, and the localisation study."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rbm import RBM
from rgdl.pipeline import LATER_FIELDS, RECIPES, preset
from tests import reference_rbm as ref

ROOT = Path(__file__).resolve().parent.parent
N_VISIBLE, N_HIDDEN, N_SAMPLES, SEED = 12, 5, 250, 3   # batches of 100, 100 and 50
N_EPOCHS = 7                                            # momentum switches at epoch 6


def binary_data(seed=0):
    """Correlated {0,1} rows: a few prototypes with 10 % of the bits flipped."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, N_VISIBLE)) < 0.5
    rows = prototypes[rng.integers(0, 3, N_SAMPLES)] ^ (rng.random((N_SAMPLES, N_VISIBLE)) < 0.1)
    return rows.astype(np.int8)


def recipe_rbm(dtype, weight_cost_kind="l2", **changes):
    params = dict(units="binary", learning_rate=0.1, n_iter=N_EPOCHS, batch_size=100,
                  momentum=0.5, final_momentum=0.9, momentum_switch_epoch=5,
                  weight_decay=2e-4 if weight_cost_kind == "l2" else 0.0,
                  l1=2e-4 if weight_cost_kind == "l1" else 0.0, init_scale=0.1,
                  init_visible_bias="zero", negative_visible="probabilities", dtype=dtype,
                  monitor_size=0, random_state=SEED)
    params.update(changes)
    return RBM(N_HIDDEN, **params)


def rbm_m_run(data, dtype, weight_cost_kind):
    """rbm.m on the same initial weights, mini-batches and uniforms as ``recipe_rbm(...).fit``.

    The RBM's random streams (rbm/model.py, rbm/fitting.py): initial weights from
    SeedSequence(seed, spawn_key (0,)), ``init_scale * standard_normal`` cast to the dtype; the
    trainer's generator from spawn key (1,) draws the key of the Gibbs-uniform stream, then one
    permutation per epoch.
    """
    root = np.random.SeedSequence(SEED)
    init = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(0,)))
    w0 = (0.1 * init.standard_normal((N_VISIBLE, N_HIDDEN))).astype(dtype).astype(np.float64)
    stream = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(1,)))
    uniforms = ref.SplitMixUniforms(int(stream.integers(0, 2 ** 64, dtype=np.uint64)))
    # rgdl's E = b.h + vWh + c.v is rbm.m's with every parameter negated
    machine = ref.RbmM(-w0, np.zeros(N_VISIBLE), np.zeros(N_HIDDEN), epsilon=0.1,
                       weightcost=2e-4, weight_cost_kind=weight_cost_kind)
    errors = []
    for epoch in range(1, N_EPOCHS + 1):
        perm = stream.permutation(N_SAMPLES)
        batches = [data[perm[s:s + 100]] for s in range(0, N_SAMPLES, 100)]
        errors.append(machine.epoch(epoch, batches,
                                    lambda shape: uniforms.random(shape, dtype=dtype)))
    return machine, np.array(errors) / (N_SAMPLES * N_VISIBLE)


def assert_matches(model, machine, errors, rtol, atol):
    np.testing.assert_allclose(model.weights_, -machine.vishid, rtol=rtol, atol=atol)
    np.testing.assert_allclose(model.visible_bias_, -machine.visbiases, rtol=rtol, atol=atol)
    np.testing.assert_allclose(model.hidden_bias_, -machine.hidbiases, rtol=rtol, atol=atol)
    trainer = model.trainer_
    np.testing.assert_allclose(trainer.velocity_weights, -machine.vishidinc, rtol=rtol, atol=atol)
    np.testing.assert_allclose(trainer.velocity_visible, -machine.visbiasinc, rtol=rtol, atol=atol)
    np.testing.assert_allclose(trainer.velocity_hidden, -machine.hidbiasinc, rtol=rtol, atol=atol)
    np.testing.assert_allclose(model.history_["reconstruction_error"], errors, rtol=rtol * 10)


@pytest.mark.parametrize("kind", ["l2", "l1"])
@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-10, 1e-12), ("float32", 2e-6, 3e-7)])
def test_recipe_matches_rbm_m_with_the_same_random_numbers(kind, dtype, rtol, atol):
    data = binary_data()
    model = recipe_rbm(dtype, kind).fit(data)
    machine, errors = rbm_m_run(data, dtype, kind)
    assert model.history_["momentum"] == [0.5] * 5 + [0.9] * 2     # rbm.m: epoch > 5 -> 0.9
    assert np.abs(machine.vishid).max() > 0.2                      # the weights did move
    assert_matches(model, machine, errors, rtol, atol)


@pytest.mark.parametrize("change", [dict(negative_visible="samples"), dict(init_scale=0.01),
                                    dict(init_visible_bias="data"), dict(weight_decay=2e-3),
                                    dict(momentum_switch_epoch=6)])
def test_reference_comparison_detects_each_departure_from_rbm_m(change):
    """Each recipe option matters: changing one (e.g. sampling the negative visibles) breaks
    the agreement with rbm.m by far more than the tolerance."""
    data = binary_data()
    model = recipe_rbm("float64", **change).fit(data)
    machine, errors = rbm_m_run(data, "float64", "l2")
    with pytest.raises(AssertionError):
        assert_matches(model, machine, errors, 1e-6, 1e-6)


def test_l1_and_l2_weight_costs_differ():
    data = binary_data()
    l1 = recipe_rbm("float64", "l1").fit(data)
    l2 = recipe_rbm("float64", "l2").fit(data)
    assert np.abs(l1.weights_ - l2.weights_).max() > 1e-6


def test_negative_visible_probabilities_draws_no_visible_uniforms():
    """The probabilities variant consumes only the hidden uniforms: n_batch x n_hidden per step."""
    data = binary_data()
    model = recipe_rbm("float64", n_iter=1).fit(data)
    assert model.trainer_.uniform_counter == N_SAMPLES * N_HIDDEN


def test_defaults_are_not_stored_and_new_options_are():
    default = RBM(4, n_iter=1, monitor_size=0, random_state=0).fit(binary_data()[:, :6] * 2 - 1)
    assert not set(default.stored_params()) & {"init_scale", "init_visible_bias", "negative_visible"}
    recipe = recipe_rbm("float32", n_iter=1).fit(binary_data())
    stored = recipe.stored_params()
    assert (stored["init_scale"], stored["init_visible_bias"], stored["negative_visible"]) == \
        (0.1, "zero", "probabilities")


@pytest.mark.parametrize("name, value", [("negative_visible", "mean"), ("init_visible_bias", "x"),
                                         ("init_scale", -1.0)])
def test_bad_recipe_options_are_one_line_errors(name, value):
    with pytest.raises(ValueError, match=name):
        RBM(4, **{name: value}).fit(binary_data())


def test_pipeline_recipes():
    hinton = preset("quick", "hinton")
    assert (hinton.units, hinton.learning_rate, hinton.weight_decay, hinton.l1, hinton.init_scale,
            hinton.init_visible_bias, hinton.negative_visible, hinton.propagate) == \
        ("binary", 0.1, 2e-4, 0.0, 0.1, "zero", "probabilities", "mean")
    assert preset("paper", "hinton-l1").l1 == 2e-4 and preset("paper", "hinton-l1").weight_decay == 0
    # the "rgdl" recipe is the presets' own: same configuration, same stored dict
    assert preset("paper", "rgdl") == preset("paper")
    assert not set(preset("paper").to_dict()) & set(LATER_FIELDS)
    assert set(RECIPES["hinton"]) <= set(preset("quick").__dataclass_fields__)
    with pytest.raises(ValueError, match="unknown recipe"):
        preset("quick", "nope")


def test_reproduce_recipe_option_rejects_unknown_names(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rgdl", "reproduce", "--quick", "--recipe", "nope",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "Error: unknown recipe 'nope'; choose from ['hinton', 'hinton-l1', 'rgdl']"]
    assert not (tmp_path / "r").exists()


def _study_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("localisation_study",
                                                  ROOT / "scripts" / "localisation_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_localisation_study_measures_a_tiny_configuration():
    study = _study_module()
    sizes = dict(size=8, layers=(16, 4), n_samples=300, analysis_samples=200, n_epochs=4,
                 null_epochs=1, block_sizes=(1, 2))
    row = study.run_configuration("hinton", "hinton", "base", {}, sizes, 0, {})
    assert [sorted(x) for x in row["layers"]] == [sorted(row["layers"][0])] * 2
    first = row["layers"][0]
    assert set(first["radius_null"]) == set(first["fidelity_null"]) == {"untrained", "shuffled"}
    assert first["block_spin"] == (first["separated"] and first["localised"])
    assert list(row["layer1_by_epoch"]) == ["1", "2"]
    assert row["settings"]["negative_visible"] == "probabilities"
    data = {"quick": True, "seed": 0, "sizes": {k: list(v) if isinstance(v, tuple) else v
                                                for k, v in sizes.items()},
            "null_sigmas": 2.0, "snapshots": ["1", "2"], "complete": True, "rows": [row]}
    table = study.markdown(data)
    assert table.startswith("`python scripts/localisation_study.py --quick`")
    assert "| hinton | base |" in table and "Layer 1 is a block spin in:" in table
    json.dumps(row)  # JSON-ready
