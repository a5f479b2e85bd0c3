"""The benchmark images: the photos in samples/ and generated large photos.

Every tool sees exactly the same pixels: each image is decoded once, here,
into an (H, W, 3) uint8 array. Tools that read files (quantize's CLI,
pngquant) get a file that decodes to those very pixels: the original file for
the CLI, and for pngquant (which reads PNG only) the original when it is a
PNG, else a lossless PNG copy written to a temporary directory.

The large images are "photo-like": a sample photo, cropped to the target's
aspect ratio, upscaled with Pillow's LANCZOS filter, plus seeded Gaussian
noise (a camera's sensor noise, which also gives the image millions of
distinct colours, as real 12 MP photos have). They are generated once into
``benchmarks/.cache/`` (git-ignored) and reused; the file name records every
parameter, so changing one generates a new file instead of reusing a stale one.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
CACHE = Path(__file__).resolve().parent / ".cache"

#: The real photos of samples/ (the synthetic images there are not photos).
PHOTOS = ("china.jpg", "flower.jpg", "astronaut.png", "chelsea.png", "coffee.png")

#: Parameters of the generated images. Bump GEN_VERSION when the recipe changes.
GEN_VERSION = 1
GEN_SOURCE = "china.jpg"
GEN_NOISE_SIGMA = 4.0  # standard deviation of the added noise, 0-255 units
GEN_SEED = 2024
LARGE_SIZE = (4000, 3000)  # 12 megapixels
HUGE_SIZE = (10000, 10000)  # 100 megapixels


@dataclass
class BenchImage:
    """One benchmark image.

    Attributes
    ----------
    name : str
        The name shown in the tables (a file name).
    pixels : ndarray of shape (H, W, 3), uint8
        The decoded pixels: what every tool quantizes and is measured against.
    path : Path
        The file handed to quantize's CLI.
    kind : str
        ``"photo"`` (a sample; the targets' medians are over these),
        ``"large"`` (the 12 MP image) or ``"huge"`` (the 100 MP image).
    """

    name: str
    pixels: np.ndarray
    path: Path
    kind: str
    _png: Path | None = field(default=None, repr=False)

    @property
    def n_pixels(self) -> int:
        return int(self.pixels.shape[0] * self.pixels.shape[1])

    @property
    def size_text(self) -> str:
        h, w = self.pixels.shape[:2]
        return f"{w}×{h}"

    def png_path(self, tmpdir: Path) -> Path:
        """A PNG file holding exactly ``self.pixels`` (for pngquant)."""
        if self.path.suffix.lower() == ".png":
            return self.path
        if self._png is None:
            target = Path(tmpdir) / (Path(self.name).stem + "-" + self.path.suffix.lstrip(".") + ".png")
            # compress_level=1: written once per run, only its pixels matter.
            Image.fromarray(self.pixels).save(target, compress_level=1)
            self._png = target
        return self._png


def load_rgb(path) -> np.ndarray:
    """Decode an image file into an (H, W, 3) uint8 array, as the CLI does.

    The EXIF orientation is applied and any mode is converted to RGB (the
    same steps as ``quantize.io.decode.load_rgb``). Pillow's decompression-bomb
    limit is lifted: the 100 MP image is over it on purpose.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                if im.mode != "RGB":
                    im = im.convert("RGB")
                return np.array(im, dtype=np.uint8)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def count_colours(pixels: np.ndarray, chunk_rows: int = 512) -> int:
    """Number of distinct RGB colours, in chunks (a 2**24-bin histogram)."""
    seen = np.zeros(1 << 24, dtype=bool)
    for r0 in range(0, pixels.shape[0], chunk_rows):
        block = pixels[r0:r0 + chunk_rows].reshape(-1, 3).astype(np.uint32)
        keys = (block[:, 0] << 16) | (block[:, 1] << 8) | block[:, 2]
        seen[keys] = True
    return int(np.count_nonzero(seen))


def photo(name: str) -> BenchImage:
    """One of the sample photos."""
    path = SAMPLES / name
    return BenchImage(name, load_rgb(path), path, "photo")


def _generate_pixels(size, source=GEN_SOURCE, sigma=GEN_NOISE_SIGMA, seed=GEN_SEED) -> np.ndarray:
    """A sample cropped to ``size``'s aspect ratio, LANCZOS-upscaled, plus noise."""
    width, height = size
    with Image.open(SAMPLES / source) as im:
        im = im.convert("RGB")
        sw, sh = im.size
        # Centre crop to the target aspect ratio, so nothing is stretched.
        if sw * height > sh * width:  # source too wide
            cw, ch = round(sh * width / height), sh
        else:
            cw, ch = sw, round(sw * height / width)
        left, top = (sw - cw) // 2, (sh - ch) // 2
        im = im.crop((left, top, left + cw, top + ch)).resize((width, height), Image.LANCZOS)
        out = np.array(im, dtype=np.uint8)
    # Noise in row chunks: float32 temporaries stay small even at 100 MP.
    # The generator is consumed in the same order whatever the chunking.
    rng = np.random.default_rng(seed)
    step = max(1, (1 << 22) // (width * 3))
    for r0 in range(0, height, step):
        block = out[r0:r0 + step]
        noisy = block.astype(np.float32)
        noisy += rng.standard_normal(block.shape, dtype=np.float32) * np.float32(sigma)
        np.rint(noisy, out=noisy)
        np.clip(noisy, 0, 255, out=noisy)
        block[...] = noisy.astype(np.uint8)
    return out


def _atomic_save(image: Image.Image, target: Path, **params) -> None:
    """Save to a temporary file next to ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    try:
        image.save(tmp, **params)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def generated_paths(size, formats=("png", "jpg"), cache: Path = CACHE) -> dict:
    """The cached files of the generated image of ``size``, generating any missing.

    Returns ``{format: Path}``. The JPEG is saved at quality 90; the PNG at
    Pillow's default compression (level 1 for images over 50 MP, to keep
    the one-off generation short).
    """
    width, height = size
    stem = (f"photo-{width}x{height}-{Path(GEN_SOURCE).stem}-noise{GEN_NOISE_SIGMA:g}"
            f"-seed{GEN_SEED}-v{GEN_VERSION}")
    paths = {fmt: Path(cache) / f"{stem}.{fmt}" for fmt in formats}
    missing = [fmt for fmt, p in paths.items() if not p.exists()]
    if missing:
        pixels = _generate_pixels(size)
        image = Image.fromarray(pixels)
        for fmt in missing:
            if fmt == "jpg":
                _atomic_save(image, paths[fmt], format="JPEG", quality=90)
            else:
                level = 1 if width * height > 50_000_000 else 6
                _atomic_save(image, paths[fmt], format="PNG", compress_level=level)
    return paths


def large_images(formats=("png", "jpg")) -> list:
    """The 12 MP image, once per format (PNG first: the CLI target uses it)."""
    paths = generated_paths(LARGE_SIZE, formats)
    return [BenchImage(p.name, load_rgb(p), p, "large") for p in paths.values()]


def huge_image() -> BenchImage:
    """The 100 MP image (PNG), for the memory check of ``--huge``."""
    path = generated_paths(HUGE_SIZE, ("png",))["png"]
    return BenchImage(path.name, load_rgb(path), path, "huge")
