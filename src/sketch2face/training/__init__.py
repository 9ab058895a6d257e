"""Training: the pix2pix model (networks + losses), the trainer loop and checkpoints."""
