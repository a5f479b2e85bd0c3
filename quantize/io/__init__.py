"""Files: Pillow decoding and encoding, atomic writes, codebook formats, plots.
"""
