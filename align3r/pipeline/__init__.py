"""The whole job: `reconstruct` (frames, network, prior -> `Reconstruction`), resources loaded once
(`resources`), one video to an output folder (`job`), many videos (`batch`), the quality report
(`quality`, with the neighbour depth `consistency`), full resolution (`full_res`), known inputs on
the network grid (`known_grid`) and the aligned prior (`aligned_prior`; its output folders:
`aligned_output`)."""
