"""Loading the alignment goldens (tests/goldens/align, made by the official optimisers) and comparing."""

from pathlib import Path

import numpy as np
import torch

from align3r.infer.pairs import PairPredictions

ALIGN_DATA = Path(__file__).parents[1] / "goldens" / "align"


def load_pairs(name: str, edges: np.ndarray | None = None, offset: int = 0) -> PairPredictions:
    """Predictions of `name`_pairs.npz for `edges` (global indices; all stored when None),
    re-indexed locally by subtracting `offset`."""
    data = np.load(ALIGN_DATA / f"{name}_pairs.npz")
    stored = np.stack([data["i"], data["j"]], axis=1)
    if edges is None:
        rows = np.arange(len(stored))
    else:
        lookup = {tuple(e): r for r, e in enumerate(stored.tolist())}
        rows = np.array([lookup[tuple(e)] for e in edges.tolist()])
    pick = {k: torch.from_numpy(data[k][rows]) if k in data.files else None
            for k in ("pts3d_i_in_i", "pts3d_j_in_i", "conf_i", "conf_j", "flow_ij", "flow_ji")}
    return PairPredictions(torch.from_numpy(stored[rows] - offset), **pick)


def rotation_error_deg(c2w_a: np.ndarray, c2w_b: np.ndarray) -> np.ndarray:
    """(N,) angle between the rotations, stable near zero (chordal distance)."""
    chord = np.linalg.norm(c2w_a[:, :3, :3] - c2w_b[:, :3, :3], axis=(1, 2))
    return np.degrees(2 * np.arcsin(np.clip(chord / (2 * np.sqrt(2)), 0, 1)))


def depth_rel(ours: np.ndarray, golden: np.ndarray) -> tuple[float, float]:
    """Median and 99th percentile of |ours / golden - 1|."""
    rel = np.abs(ours / golden - 1)
    return float(np.median(rel)), float(np.percentile(rel, 99))


def translation_rel(c2w: np.ndarray, golden_c2w: np.ndarray) -> float:
    """Max camera-centre distance over the golden trajectory's extent."""
    extent = np.ptp(golden_c2w[:, :3, 3], axis=0).max()
    return float(np.abs(c2w[:, :3, 3] - golden_c2w[:, :3, 3]).max() / extent)


def ate(c2w: np.ndarray, gt_c2w: np.ndarray) -> float:
    """RMSE of the camera centres after a Sim(3) alignment onto the ground truth."""
    import roma
    src, dst = torch.from_numpy(c2w[:, :3, 3]), torch.from_numpy(gt_c2w[:, :3, 3])
    rot, trans, scale = roma.rigid_points_registration(src, dst, compute_scaling=True)
    aligned = scale * src @ rot.T + trans
    return float(((aligned - dst) ** 2).sum(-1).mean().sqrt())


def check_initial_state(ours, golden: dict, scene: int, extent: float, pnp_flips: int = 0) -> None:
    """Tolerance 2 of the goldens' README: the state right after the initialisation.

    `pnp_flips` frames may differ up to 1e-3 (rotation entries) and 1e-2 x extent: a PnP frame
    whose RANSAC consensus flipped on last-bit differences of its inputs (the README's caveat)."""
    key = f"init.s{scene}."
    np.testing.assert_array_equal(ours.tree.mst_edges, golden[key + "mst_edges"])
    np.testing.assert_allclose(ours.tree.focals, golden[key + "mst_focals"], rtol=1e-4)
    np.testing.assert_allclose(ours.init.focals.numpy(), golden[key + "focals"], rtol=1e-4)
    np.testing.assert_allclose(ours.init_pw_scales.numpy(), golden[key + "pw_scale"], rtol=1e-4)
    rel = np.abs(ours.init.depths.numpy() / golden[key + "depths"] - 1)
    assert np.median(rel) <= 1e-4 and rel.max() <= 1e-3
    c2w, golden_c2w = ours.init.c2w.double().numpy(), golden[key + "poses_c2w"]
    rot = np.abs(c2w[:, :3, :3] - golden_c2w[:, :3, :3]).max(axis=(1, 2))
    trans = np.abs(c2w[:, :3, 3] - golden_c2w[:, :3, 3]).max(axis=1) / extent
    exact = (rot <= 1e-4) & (trans <= 1e-4)
    assert (~exact).sum() <= pnp_flips and rot.max() <= 1e-3 and trans.max() <= 1e-2


def check_loss_curve(curve: np.ndarray, golden_curve: np.ndarray, every: float, first_ten: float = 1e-4) -> None:
    """Tolerance 3: entry 0 <= 1e-5, first 10 <= `first_ten`, all <= `every`, final <= 1e-3 (relative)."""
    rel = np.abs(curve / golden_curve - 1)
    assert rel[0] <= 1e-5 and rel[:10].max() <= first_ten and rel.max() <= every and rel[-1] <= 1e-3


def abs_rel_one_scale(depths: np.ndarray, gt_depths: np.ndarray) -> float:
    """Abs Rel of (N, H, W) depths after one median scale for the whole sequence."""
    scale = np.median(gt_depths) / np.median(depths)
    return float(np.mean(np.abs(scale * depths - gt_depths) / gt_depths))
