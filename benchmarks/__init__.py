"""The speed, quality and memory harness behind ``make bench``.

Run it with ``make bench`` (which installs the ``bench`` extra and pngquant
first), or directly from the repository root with the virtualenv's Python::

    python -m benchmarks.run            # the full run: 5 photos + 12 MP, k = 16, 64, 256
    python -m benchmarks.run --quick    # one photo, k = 16, one repeat: a smoke run
    python -m benchmarks.run --huge     # also the 100 MP memory check (CLI only)
    python -m benchmarks.run --help     # every option
    python -m benchmarks.corpus         # only the quality corpus table (fast once cached)
    python -m benchmarks.dither         # only the dithering section

Modules:

``images``
    The photos in samples/ and the generated 12 MP / 100 MP images (cached in
    ``benchmarks/.cache/``, which git ignores).
``tools``
    One runner per tool (quantize's pipeline and CLI, cv2.kmeans, scikit-learn,
    scipy's kmeans2, Pillow's median cut, pngquant); child processes are timed
    with ``os.wait4`` so their peak RSS comes for free.
``report``
    The error measure shared by every tool, the Markdown tables, the medians,
    the speed, MSE and memory targets with PASS/FAIL, and the machine description.
``looks``
    Perceptual error (ΔE_OK, CIEDE2000), PSNR and palette PNG bytes against
    pngquant, and the time to dither the 12 MP image.
``dither``
    Dithering against pngquant's default dithering on the corpus images:
    blurred MSE (Gaussian σ = 1.5 px) and flat-area noise of no dithering,
    ``floyd-steinberg`` and ``ordered``, exactness checks, and the time to
    dither the 12 MP image; pngquant's figures are cached.
``corpus``
    The quality corpus: the sample photos plus generated images of hard
    classes (starfields, fog, sepia, stains, saturated art, UI screenshots,
    gradients, high-ISO noise) and the 12 MP photo; quantize's MSE against
    cv2.kmeans (best of 3 seeds), pngquant and full weighted k-means, whose
    results are cached, with their targets.
``run``
    The command line that ties them together and writes ``benchmarks/RESULTS.md``.

The comparison libraries (cv2, scikit-learn, scipy) are imported only inside
their runners, so this package imports with nothing but quantize's own runtime
dependencies (the smoke test in ``tests/test_bench_smoke.py`` relies on that).
"""
