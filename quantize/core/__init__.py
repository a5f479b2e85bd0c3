"""The numpy-only k-means core: searches, seeds, Lloyd loops, metrics, histograms, colour spaces.

Imports nothing of the other layers (docs/design.md, "Layers").
"""
