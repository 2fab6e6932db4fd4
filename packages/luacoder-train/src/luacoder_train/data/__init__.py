"""Training data: loading sources and mixtures, chat masking, packing and collators."""
