"""Files in and out, used by every stage: frames from a video, folder or glob (`video`), what the user knows
of the video (`known_inputs`), depth and image formats (`formats`), trajectories (`trajectory`), the
output folder (`results`), exports to other tools (`export/`) and the 4D viewer (`view`)."""
