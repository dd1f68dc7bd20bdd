"""The network: config, blocks, RoPE, the prior branch, heads and `Align3RNet` (`encode_frames` once per
frame, `decode_pairs` per pair); `checkpoint` reads the official .pth and hub formats without pickles."""
