"""User-facing errors: a missing optional package is one line naming the extra, exit code 2."""

import sys

import numpy as np
import pytest

from align3r.cli import main
from align3r.errors import MissingDependency, require
from align3r.io.results import save_reconstruction
from align3r.reconstruction import Reconstruction


def test_require_imports_or_names_the_extra(monkeypatch):
    assert require("json", "none", feature="reading JSON").dumps([1]) == "[1]"
    monkeypatch.setitem(sys.modules, "viser", None)
    with pytest.raises(MissingDependency, match=r"^the viewer needs viser: pip install 'align3r\[viewer\]'$"):
        require("viser", "viewer", feature="the viewer")


@pytest.fixture
def result(tmp_path):
    n, h, w = 2, 8, 12
    rec = Reconstruction(images=np.zeros((n, h, w, 3), np.uint8), depths=np.ones((n, h, w), np.float32),
                         conf=np.full((n, h, w), 2.0, np.float32), poses_c2w=np.tile(np.eye(4), (n, 1, 1)),
                         intrinsics=np.tile(np.diag([10.0, 10.0, 1.0]), (n, 1, 1)),
                         dynamic_masks=np.zeros((n, h, w), bool), names=["a", "b"])
    save_reconstruction(rec, tmp_path / "out")
    return tmp_path / "out"


@pytest.mark.parametrize("package, extra, command", [
    ("trimesh", "export", ["export", "{out}", "--format", "ply"]),
    ("av", "video", ["export", "{out}", "--format", "mp4"]),
    ("viser", "viewer", ["view", "{out}"]),
    ("av", "video", ["run", "{tmp}/clip.mp4", "-o", "{tmp}/run", "--model", "tiny", "--prior", "files:{tmp}",
                     "--flow", "none", "--device", "cpu"]),
])
def test_a_missing_package_is_one_line_and_exit_2(package, extra, command, result, tmp_path, monkeypatch, capsys):
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    monkeypatch.setitem(sys.modules, package, None)
    assert main([word.format(out=result, tmp=tmp_path) for word in command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pip install 'align3r[{extra}]'" in err
    assert not (tmp_path / "run").exists()
