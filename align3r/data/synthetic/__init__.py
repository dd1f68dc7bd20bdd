"""Synthetic dynamic videos with exact ground truth (docs/synthetic.md): render, simulate priors, write."""

from align3r.data.synthetic.prior import PRIOR_PRESETS, PriorConfig, PriorMaps, exact_prior, simulate_prior
from align3r.data.synthetic.sequence import SynthConfig, SyntheticSequence, build_scene, generate_sequence
from align3r.data.synthetic.writer import read_sequence, write_sequence

__all__ = ["PRIOR_PRESETS", "PriorConfig", "PriorMaps", "SynthConfig", "SyntheticSequence", "build_scene", "exact_prior",
           "generate_sequence", "read_sequence", "simulate_prior", "write_sequence"]
