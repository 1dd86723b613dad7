"""Why two embeddings are close: word attributions and image heatmaps (Captum)."""
