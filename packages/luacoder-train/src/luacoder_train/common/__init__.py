"""The parts every trainer shares: config, model/tokenizer/data loading, masking, packing,
callbacks and the checkpoint layout."""
