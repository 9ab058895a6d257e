"""sketch2face: a reproducible pix2pix pipeline that turns face sketches into face photos."""

__version__ = "0.1.0"
