"""pix2pix networks: the U-Net generator, the PatchGAN discriminator and the GAN loss."""
