"""Global and hierarchical alignment of pair predictions into poses, depths and focals."""

from align3r.align.config import PRESETS, AlignConfig, HierarchyConfig
from align3r.align.global_align import AlignResult, global_align
from align3r.align.hierarchical import HierarchicalResult, hierarchical_align
from align3r.align.init import KeyframePrior

__all__ = ["PRESETS", "AlignConfig", "AlignResult", "HierarchicalResult", "HierarchyConfig",
           "KeyframePrior", "global_align", "hierarchical_align"]
