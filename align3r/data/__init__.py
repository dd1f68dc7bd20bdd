"""Training data: the synthetic generator (`synthetic/`), dataset readers (`readers/`), pair sampling,
crops, augmentation and batches for `train/`."""
