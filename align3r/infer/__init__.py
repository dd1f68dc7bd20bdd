"""Pair inference: frames and prior maps -> network inputs (`preprocess`), the scene graph (`graph`), the
network over the edges with each frame encoded once (`runner`), `PairPredictions` (`pairs`, the contract
with `align/`), the resumable store on disk (`store`) and the flow estimators (`flow/`)."""
