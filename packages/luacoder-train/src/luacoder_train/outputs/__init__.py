"""What a run leaves behind: the atomic checkpoint layout and the model card."""
