"""One CLI vocabulary: shared options declared once, click range types, deprecated aliases.

Checks that every command takes its common options (``--seed``, ``--out``, ``--samples``, ...)
from :mod:`rgdl.commands.options`, that a short alias means the same in every command that has
it, that out-of-range values are one line ``Error: ...`` with exit status 2, that the deprecated
short options still work with a note, that ``rgdl --help`` lists the commands in the order a user
runs them, and that a model given for a dataset (or the other way round) is named as such.
"""

from __future__ import annotations

import zlib

import click
import numpy as np
import pytest

from rgdl import cli
from rgdl.commands.options import SharedOption

#: Long options that belong to the shared vocabulary: wherever a command has one of them, it
#: must come from a decorator of rgdl.commands.options.
VOCABULARY = {"--temperature", "--temperatures", "--size", "--sizes", "--samples", "--algorithm",
              "--dimension", "--coupling", "--field", "--seed", "--out", "--overwrite",
              "--resume", "--quiet", "--verbose", "--json"}

#: (command, option) pairs that share a long name but not the meaning, with the reason.
NOT_SHARED = {
    # the 1D flow's --size is the chain length N of an exactly enumerated chain (-N), bounded
    # by 16; it is not the linear size L of the Monte Carlo commands
    ("flow1d", "--size"),
}


def _commands():
    return [(name, cli.load_command(name)) for name in cli.command_names()]


def _options(command):
    return [p for p in command.params if isinstance(p, click.Option)]


def test_help_lists_commands_in_the_order_a_user_runs_them(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    listed = [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == ["simulate", "sweep", "train", "sample", "reproduce", "flow1d", "mcrg",
                      "rbmflow", "fss", "bench"]


def test_shared_options_come_from_the_shared_decorators():
    for name, command in _commands():
        for option in _options(command):
            longs = [o for o in option.opts if o.startswith("--")]
            if any(o in VOCABULARY for o in longs) and (name, longs[0]) not in NOT_SHARED:
                assert isinstance(option, SharedOption), (name, option.opts)


def test_each_shared_option_has_one_type_and_one_set_of_aliases():
    """The same shared option has the same click type class and the same names everywhere."""
    seen = {}
    for name, command in _commands():
        for option in _options(command):
            if not isinstance(option, SharedOption):
                continue
            shape = (type(option.type).__name__, option.is_flag, tuple(sorted(option.opts)))
            if option.shared == "samples" and name == "mcrg":
                continue  # -n is mcrg's deprecated --levels for one release (checked below)
            seen.setdefault(option.shared, {})[name] = shape
    for shared, by_command in seen.items():
        if shared in ("out",):  # a file for some commands, a folder for others
            by_command = {k: v[1:] for k, v in by_command.items()}
        assert len(set(by_command.values())) == 1, (shared, by_command)
    assert len(seen["seed"]) >= 7 and len(seen["quiet"]) >= 8 and len(seen["out"]) >= 8


def test_a_short_alias_means_the_same_in_every_command():
    meaning = {}
    for name, command in _commands():
        for option in _options(command):
            longs = [o for o in option.opts if o.startswith("--")]
            for short in (o for o in option.opts if not o.startswith("--")):
                # --temperature / --temperatures and --size / --sizes are one word
                meaning.setdefault(short, set()).add(longs[0].rstrip("s"))
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}
    assert meaning["-q"] == {"--quiet"} and meaning["-n"] == {"--sample"}
    assert meaning["-T"] == {"--temperature"} and meaning["-L"] == {"--size"}


@pytest.mark.parametrize("argv, option", [
    (["train", "x.h5", "--out", "m.npz", "--learning-rate", "0"], "--learning-rate"),
    (["train", "x.h5", "--out", "m.npz", "--momentum", "1"], "--momentum"),
    (["train", "x.h5", "--out", "m.npz", "--l1", "inf"], "--l1"),
    (["train", "x.h5", "--out", "m.npz", "--seed", "-1"], "--seed"),
    (["simulate", "--size", "8", "--temperature", "nan", "--samples", "5", "--out", "a.h5"],
     "--temperature"),
    (["simulate", "--size", "8", "--temperature", "2", "--samples", "0", "--out", "a.h5"],
     "--samples"),
    (["sample", "m.npz", "--samples", "3", "--gibbs-steps", "-1", "--out", "s.h5"],
     "--gibbs-steps"),
    (["sweep", "-T", "2", "-L", "4", "--workers", "-1", "--out", "never"], "--workers"),
    (["sweep", "-T", "2", "-L", "4", "--dimension", "3", "--out", "never"], "--dimension"),
    (["fss", "nowhere", "--bootstrap", "5"], "--bootstrap"),
    (["flow1d", "-K", "1", "--strength", "0"], "--strength"),
    (["mcrg", "--seed", "-2"], "--seed"),
    (["rbmflow", "--contrast", "-1"], "--contrast"),
    (["reproduce", "--seed", str(1 << 63)], "--seed"),
])
def test_range_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, argv, option):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert option in lines[0]
    assert not any(tmp_path.iterdir())


def test_deprecated_short_options_still_work_with_a_note(capsys):
    command = cli.load_command("mcrg")
    ctx = command.make_context("mcrg", ["-n", "2", "-N500", "--size", "32"])
    assert (ctx.params["levels"], ctx.params["samples"], ctx.params["size"]) == (2, 500, 32)
    err = capsys.readouterr().err
    assert "-n is deprecated" in err and "--levels" in err
    assert "-N is deprecated" in err and "--samples" in err
    help_lines = command.get_help(ctx).splitlines()
    assert not any(line.strip().startswith(("-n,", "-N,")) for line in help_lines)
    # a value that looks like an old option, and everything after --, are left alone
    rewritten = command.make_context("mcrg", ["--transform", "majority", "--out", "-n"])
    assert rewritten.params["out"] == "-n" and rewritten.params["levels"] == 3
    assert capsys.readouterr().err == ""


def test_deprecated_option_runs_end_to_end(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["mcrg", "-N", "50"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2
    assert err[0].startswith("Warning: -N is deprecated") and err[1].startswith("Error: ")
    assert "--samples must be >= 100" in err[1]


@pytest.fixture(scope="module")
def dataset_and_model(tmp_path_factory):
    from ising.dataset import generate_dataset

    folder = tmp_path_factory.mktemp("kinds")
    data = folder / "data.h5"
    generate_dataset(data, dimension=2, size=4, temperature=2.5, n_samples=40, burn_in=5,
                     thin=1, seed=1)
    model = folder / "model.npz"
    with pytest.raises(SystemExit) as info:
        cli.main(["train", str(data), "--layers", "3", "--epochs", "1", "--batch-size", "10",
                  "--seed", "1", "-q", "--out", str(model)])
    assert info.value.code == 0
    return data, model


def test_a_dataset_given_as_model_and_a_model_given_as_data_are_named(dataset_and_model,
                                                                      tmp_path, capsys):
    data, model = dataset_and_model
    capsys.readouterr()
    for argv, expected in ((["sample", str(data), "--samples", "2"], "it is an HDF5 spin dataset"),
                           (["train", str(model)], "not an HDF5 spin dataset")):
        with pytest.raises(SystemExit) as info:
            cli.main(argv + ["--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert info.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert expected in err and "pickle" not in err
    assert list(tmp_path.iterdir()) == []


def test_one_seed_derivation_reproduces_the_earlier_helpers():
    """rgdl.seeds.derive_seed gives the bytes of the sweep's and the pipeline's former helpers."""
    from rgdl import seeds
    from rgdl import sweep as sw

    params = {"temperature": 2.25, "size": 8, "seed": 3, "dimension": 2, "algorithm": "wolff"}
    others = {k: v for k, v in params.items() if k != "seed"}
    words = seeds.hash_key(others)
    state = np.random.SeedSequence(entropy=3, spawn_key=words).generate_state(2, np.uint32)
    assert sw.point_seed(params) == (int(state[1]) << 32 | int(state[0])) >> 1
    sequence = np.random.SeedSequence(entropy=sw.point_seed(params), spawn_key=(1,))
    assert sw.train_seed(params) == int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))
    for root, name in ((0, "simulate"), (12345, "flow3")):
        expected = np.random.SeedSequence(root, spawn_key=(zlib.crc32(name.encode()),))
        assert seeds.child_seed(root, name) == int(expected.generate_state(1, np.uint32)[0])
    assert 0 <= seeds.random_seed() < seeds.SEED_BOUND
    with pytest.raises(ValueError):
        seeds.derive_seed(1, (2,), bits=16)
