"""The image pipeline: fit a palette to an image, apply one, alpha, dither, quality targets, elbow.

Arrays in, arrays out: imports the core, never Pillow, click or the layers above.
"""
