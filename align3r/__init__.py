"""align3r: consistent depth, cameras and 4D point clouds from monocular dynamic videos."""

__version__ = "0.1.0"
