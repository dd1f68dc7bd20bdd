"""The on-disk layout: complete or absent, identical bytes per seed, read back unchanged; the CLI."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, read_sequence, write_sequence, writer
from align3r.errors import InputError

CONFIG = SynthConfig(frames=3, width=48, height=32, seed=12)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_round_trip(tmp_path):
    sequence = generate_sequence(CONFIG)
    out = write_sequence(sequence, tmp_path / "seq")
    names = set(digest(out))
    expected = {f"{sub}/{i:06d}.{ext}" for sub, ext in (("rgb", "png"), ("depth", "npy"), ("mask", "png")) for i in range(3)}
    expected |= {f"prior/{style}/{i:06d}.npz" for style in ("depth-anything", "depth-pro") for i in range(3)}
    assert names == expected | {"cameras.npz", "meta.json"}
    back = read_sequence(out)
    for name in ("images", "depths", "valid_masks", "dynamic_masks", "intrinsics", "poses_c2w"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sequence, name), err_msg=name)
    assert back.meta == json.loads(json.dumps(sequence.meta))
    with np.load(out / "prior" / "depth-pro" / "000001.npz") as pro, np.load(out / "prior" / "depth-anything" / "000001.npz") as anything:
        assert set(pro.files) == {"depth", "focallength_px"} and set(anything.files) == {"depth"}
        assert pro["focallength_px"] == sequence.priors["depth-pro"].focal_px[1]
        np.testing.assert_array_equal(anything["depth"], sequence.priors["depth-anything"].disparity_affine[1])
    for style, maps in sequence.priors.items():
        np.testing.assert_array_equal(back.priors[style].stored, maps.stored)


def test_same_seed_same_bytes(tmp_path):
    first = write_sequence(generate_sequence(CONFIG), tmp_path / "a")
    second = write_sequence(generate_sequence(CONFIG), tmp_path / "b")
    assert digest(first) == digest(second)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def fail_halfway(sequence, root):
        (root / "rgb").mkdir()
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_write_contents", fail_halfway)
    with pytest.raises(OSError):
        write_sequence(generate_sequence(CONFIG), tmp_path / "seq")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(tmp_path):
    sequence = generate_sequence(CONFIG)
    out = tmp_path / "seq"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="exists"):
        write_sequence(sequence, out)
    write_sequence(sequence, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "meta.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["seq"]


def test_cli_writes_a_sequence(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "cli"), "--frames", "2", "--size", "40x24", "--seed", "3",
                 "--prior", "exact", "--objects", "2"]) == 0
    sequence = read_sequence(tmp_path / "cli")
    assert sequence.images.shape == (2, 24, 40, 3)
    np.testing.assert_array_equal(sequence.priors["depth-pro"].depth_metric[sequence.valid_masks],
                                  sequence.depths[sequence.valid_masks])
    assert "wrote 2 frames" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [(["--frames", "0"], "frames"), (["--size", "64"], "size"),
                                           (["--camera", "fly"], "camera"), (["--prior", "perfect"], "prior"),
                                           (["--objects", "9"], "dynamic")])
def test_cli_bad_input_is_one_line_exit_2_no_output(tmp_path, capsys, args, message):
    assert main(["synth", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_non_empty_output_before_rendering(tmp_path, capsys, monkeypatch):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    monkeypatch.setattr("align3r.data.synthetic.generate_sequence", lambda config: pytest.fail("rendered"))
    assert main(["synth", str(tmp_path / "out")]) == 2
    assert "exists" in capsys.readouterr().err


def test_reading_a_missing_or_partial_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read synthetic sequence"):
        read_sequence(tmp_path / "none")
    out = write_sequence(generate_sequence(CONFIG), tmp_path / "seq")
    (out / "cameras.npz").unlink()
    with pytest.raises(InputError, match="cameras.npz"):
        read_sequence(out)
