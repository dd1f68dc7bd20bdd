"""The self-derived motion masks and their errors."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers.align_goldens import ALIGN_DATA, load_pairs

from align3r.align.config import PRESETS
from align3r.align.global_align import global_align
from align3r.align.motion import motion_masks
from align3r.errors import InputError


def test_motion_masks_match_the_official_ones():
    masks = motion_masks(load_pairs("global8"), PRESETS["demo"][0])
    golden = np.load(ALIGN_DATA / "global8_demo_flow.npz")["dynamic_masks"]
    assert (masks.numpy() == golden).mean() >= 0.999 and golden.any()


def test_motion_masks_need_the_symmetrised_layout():
    pairs = load_pairs("global8")
    half = torch.arange(16)
    unsym = replace(pairs, edges=pairs.edges[half], pts3d_i_in_i=pairs.pts3d_i_in_i[half],
                    pts3d_j_in_i=pairs.pts3d_j_in_i[half], conf_i=pairs.conf_i[half],
                    conf_j=pairs.conf_j[half], flow_ij=pairs.flow_ij[half], flow_ji=pairs.flow_ji[half])
    with pytest.raises(InputError, match="symmetrised"):
        motion_masks(unsym, PRESETS["demo"][0])


def test_flow_term_on_without_flows_is_an_error_and_off_needs_none():
    pairs = load_pairs("hier12", np.array([[0, 1], [0, 2], [1, 2]]))
    with pytest.raises(InputError, match="no flow"):
        global_align(pairs, PRESETS["demo"][0])
    result = global_align(pairs, replace(PRESETS["demo"][0], niter=2, flow_weight=0.0))
    assert not result.dynamic_masks.any()
