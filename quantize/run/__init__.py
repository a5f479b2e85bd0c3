"""Runners above the image job: batches of files, locally or on Dask.
"""
