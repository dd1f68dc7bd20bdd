"""Evaluation: depth and pose metrics, the official protocols, benchmark datasets, predictions read from
folders or made by the pipeline, the temporal alignment error, and the offline demo scored against ground
truth."""
