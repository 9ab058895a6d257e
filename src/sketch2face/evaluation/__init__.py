"""Evaluation: generated test photos, PSNR/SSIM against the real ones, reports and pictures."""
