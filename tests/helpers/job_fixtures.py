"""The `align3r run` job of the pipeline tests: a written synthetic video, a random tiny model, exact pair
predictions in place of the network's, and the fast options."""

import pytest
import torch

from align3r.cli import main
from align3r.data.synthetic import SynthConfig, generate_sequence, write_sequence
from align3r.geometry import invert_pose, transform_points, unproject_depth
from align3r.infer import runner
from align3r.infer.pairs import PairPredictions
from align3r.model.checkpoint import save_pretrained
from align3r.model.config import PRESETS
from align3r.model.network import Align3RNet

FAST = ["--size", "64", "--niter", "10", "--flow", "none", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def sequence():
    return generate_sequence(SynthConfig(frames=6, width=64, height=48, seed=5, setting="indoor"))


@pytest.fixture(scope="module")
def job(tmp_path_factory, sequence):
    """A written synthetic sequence (rendered at the network size) and a random tiny model folder."""
    root = tmp_path_factory.mktemp("job")
    write_sequence(sequence, root / "seq")
    torch.manual_seed(0)
    save_pretrained(Align3RNet(PRESETS["tiny"]), root / "model")
    return root


@pytest.fixture(autouse=True)
def oracle(monkeypatch, sequence):
    """Replace the (untrained) network's pair predictions by the exact ones; count the edges asked.

    Everything else of the job runs for real: input, priors, store, alignment, output.
    """
    depth = torch.from_numpy(sequence.depths).double()
    k = torch.from_numpy(sequence.intrinsics)
    c2w = torch.from_numpy(sequence.poses_c2w)
    pts_cam = unproject_depth(depth, k)
    asked = []

    def exact_pairs(model, load, edges, *, batch_size, device, precision="fp32"):
        asked.append(len(edges))
        for start in range(0, len(edges), batch_size):
            ids = torch.arange(start, min(start + batch_size, len(edges)))
            i, j = edges[ids, 0], edges[ids, 1]
            j2i = invert_pose(c2w[i]) @ c2w[j]
            pts_i, pts_j = pts_cam[i].float(), transform_points(j2i, pts_cam[j]).float()
            conf = torch.full(pts_i.shape[:-1], 5.0)
            yield runner.PairBatch(ids, PairPredictions(edges=edges[ids], pts3d_i_in_i=pts_i, pts3d_j_in_i=pts_j,
                                                        conf_i=conf, conf_j=conf))

    monkeypatch.setattr("align3r.pipeline.reconstruct.infer_pairs", exact_pairs)
    return asked


def run(job, out, *extra) -> int:
    return main(["run", str(job / "seq" / "rgb"), "-o", str(out), "--model", str(job / "model"),
                 "--prior", f"simulated:{job / 'seq'}", *FAST, *extra])
