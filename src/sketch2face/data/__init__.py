"""Raw datasets in, aligned face pairs out: sources, alignment, pairs and the training dataset."""
