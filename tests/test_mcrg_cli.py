"""``rgdl mcrg``: JSON shape, one-line errors, refusing to overwrite."""

from __future__ import annotations

import json

import pytest

from rgdl.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_json_shape(capsys, tmp_path):
    code, out, err = run(capsys, "mcrg", "--size", "16", "--levels", "1", "--samples", "200",
                         "--seed", "3", "--json", "--out", str(tmp_path / "o"))
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"transform", "block", "levels"}
    assert data["transform"] == "majority" and data["block"] == 2
    assert [lv["level"] for lv in data["levels"]] == [1]
    assert set(data["levels"][0]) == {"level", "n_even", "n_odd", "y_T", "y_T_err", "y_h", "y_h_err"}
    assert data["levels"][0]["n_even"] == 9 and data["levels"][0]["n_odd"] == 6
    assert (tmp_path / "o" / "mcrg_majority_b2.json").exists()
    assert (tmp_path / "o" / "coupling_flow_majority_b2.png").exists()
    # same seed, same numbers
    code, out2, _ = run(capsys, "mcrg", "--size", "16", "--levels", "1", "--samples", "200",
                        "--seed", "3", "--json")
    assert json.loads(out2) == data
    # refuses to overwrite, one line, exit 2
    code, _, err = run(capsys, "mcrg", "--size", "16", "--levels", "1", "--samples", "200",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1 and "--overwrite" in err


def test_learned_json(capsys, tmp_path):
    code, out, err = run(capsys, "mcrg", "--size", "16", "--levels", "1", "--samples", "200",
                         "--transform", "learned", "--epochs", "1", "--json", "--out", str(tmp_path))
    assert code == 0, err
    assert json.loads(out)["transform"] == "learned"
    assert (tmp_path / "kernels_learned_b2.png").exists()
    assert (tmp_path / "local_rbm_stack_learned_b2.npz").exists()


@pytest.mark.parametrize("args,msg", [
    (["--size", "30"], "multiple of block"),
    (["--size", "16", "--levels", "2"], "fewer --levels"),
    (["--coupling", "-1"], "--coupling"),
    (["--samples", "10"], "--samples"),
    (["--block", "1"], "--block"),
    (["--transform", "nope"], "nope"),
    (["--transform", "learned", "--kernel", "1"], "--kernel"),
])
def test_bad_input_one_line(capsys, args, msg):
    code, out, err = run(capsys, "mcrg", *args)
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1 and msg in err


def test_default_coupling_is_onsager():
    import ising
    from rgdl.commands.mcrg import K_CRITICAL

    assert K_CRITICAL == pytest.approx(float(ising.exact.critical_coupling()), abs=1e-15)
