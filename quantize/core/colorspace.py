"""Colour spaces: sRGB <-> linear RGB <-> CIE XYZ (D65) <-> Oklab / CIELAB.

numpy only, vectorised over any leading shape (the last axis holds the three
components). Every conversion is a chain of small steps, each with its
inverse, in the manner of scikit-image's ``colorconv``::

    sRGB (0-255) --srgb_to_linear--> linear RGB (0-1) --linear_to_xyz--> XYZ (D65, Y=1)
    linear RGB --linear_to_oklab--> Oklab (L 0-1)     XYZ --xyz_to_lab--> CIELAB (L 0-100)

sRGB values are floats in 0-255 (uint8 input is accepted); values outside
the gamut come back out of 0-255 rather than clipped, so that round trips
are exact to rounding. :func:`to_working` / :func:`from_working` are what the
pipeline uses: sRGB 0-255 to a working space and back.

Distances: :func:`delta_e_ok` (Euclidean distance in Oklab) and
:func:`ciede2000` (CIE ΔE 2000 between CIELAB colours).

References
----------
* sRGB transfer function and primaries: IEC 61966-2-1:1999.
* sRGB -> XYZ matrix: Bruce Lindbloom, "RGB/XYZ Matrices"
  (http://www.brucelindbloom.com/Eqn_RGB_XYZ_Matrix.html), sRGB with the
  D65 white (0.95047, 1.0, 1.08883).
* Oklab: Björn Ottosson, "A perceptual color space for image processing"
  (https://bottosson.github.io/posts/oklab/), 2020: matrices M1 (XYZ -> LMS),
  M2 (LMS' -> Lab) and the direct linear sRGB -> LMS matrix.
* CIELAB: CIE 15:2004, with the exact constants ε = 216/24389 and
  κ = 24389/27 (Lindbloom, "CIE L*a*b* and XYZ").
* CIEDE2000: G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 color-difference
  formula: implementation notes, supplementary test data, and mathematical
  observations", Color Res. Appl. 30(1), 2005.
"""

from __future__ import annotations

import numpy as np

from ..vocabulary import COLOR_SPACES

__all__ = [
    "COLOR_SPACES",
    "srgb_to_linear", "linear_to_srgb",
    "linear_to_xyz", "xyz_to_linear",
    "linear_to_oklab", "oklab_to_linear", "xyz_to_oklab", "oklab_to_xyz",
    "xyz_to_lab", "lab_to_xyz",
    "srgb_to_oklab", "oklab_to_srgb", "srgb_to_lab", "lab_to_srgb",
    "to_working", "from_working", "eps_scale", "check_color_space",
    "delta_e_ok", "ciede2000", "luminance",
]


# --------------------------------------------------------------------------
# Constants

#: sRGB linear RGB -> XYZ (D65), Lindbloom's matrix (rows sum to the white).
_RGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)

#: D65 reference white (X, Y, Z) with Y = 1: the rows of _RGB_TO_XYZ summed.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])

#: Oklab, Ottosson (2020): XYZ -> LMS (M1), LMS' -> Lab (M2), and linear sRGB
#: -> LMS (M1 times the sRGB matrix, as published, more accurate for sRGB).
_OKLAB_M1 = np.array([
    [0.8189330101, 0.3618667424, -0.1288597137],
    [0.0329845436, 0.9293118715, 0.0361456387],
    [0.0482003018, 0.2643662691, 0.6338517070],
])
_OKLAB_M2 = np.array([
    [0.2104542553, 0.7936177850, -0.0040720468],
    [1.9779984951, -2.4285922050, 0.4505937099],
    [0.0259040371, 0.7827717662, -0.8086757660],
])
_OKLAB_RGB_TO_LMS = np.array([
    [0.4122214708, 0.5363325363, 0.0514459929],
    [0.2119034982, 0.6806995451, 0.1073969566],
    [0.0883024619, 0.2817188376, 0.6299787005],
])
# Inverses computed, not the rounded published ones, so round trips are exact.
_OKLAB_M1_INV = np.linalg.inv(_OKLAB_M1)
_OKLAB_M2_INV = np.linalg.inv(_OKLAB_M2)
_OKLAB_LMS_TO_RGB = np.linalg.inv(_OKLAB_RGB_TO_LMS)

#: CIELAB constants (CIE 15:2004 as exact fractions).
_LAB_EPSILON = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0

#: Luminance (Y) weights of linear sRGB: the middle row of _RGB_TO_XYZ.
LUMINANCE_WEIGHTS = _RGB_TO_XYZ[1]


def _apply(matrix, values):
    """``matrix @ v`` for every 3-vector ``v`` along the last axis."""
    values = np.asarray(values, dtype=np.float64)
    return values @ matrix.T


# --------------------------------------------------------------------------
# sRGB transfer function


def srgb_to_linear(srgb):
    """sRGB values in 0-255 to linear RGB in 0-1 (IEC 61966-2-1 decoding).

    Examples
    --------
    >>> srgb_to_linear([0, 255]).tolist()
    [0.0, 1.0]
    """
    c = np.asarray(srgb, dtype=np.float64) / 255.0
    # The odd extension of the curve, so out-of-gamut values round-trip.
    a = np.abs(c)
    out = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return np.copysign(out, c)


def linear_to_srgb(linear):
    """Linear RGB in 0-1 to sRGB values in 0-255 (not clipped or rounded)."""
    c = np.asarray(linear, dtype=np.float64)
    a = np.abs(c)
    out = np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1.0 / 2.4) - 0.055)
    return np.copysign(out, c) * 255.0


# --------------------------------------------------------------------------
# Linear RGB <-> XYZ


def linear_to_xyz(linear):
    """Linear sRGB to CIE XYZ (D65, Y of white = 1)."""
    return _apply(_RGB_TO_XYZ, linear)


def xyz_to_linear(xyz):
    """CIE XYZ (D65) to linear sRGB."""
    return _apply(_XYZ_TO_RGB, xyz)


# --------------------------------------------------------------------------
# Oklab


def _lms_to_oklab(lms):
    return _apply(_OKLAB_M2, np.cbrt(lms))


def _oklab_to_lms(lab):
    return _apply(_OKLAB_M2_INV, lab) ** 3


def linear_to_oklab(linear):
    """Linear sRGB to Oklab (L of white = 1), Ottosson's direct matrix."""
    return _lms_to_oklab(_apply(_OKLAB_RGB_TO_LMS, linear))


def oklab_to_linear(lab):
    """Oklab to linear sRGB."""
    return _apply(_OKLAB_LMS_TO_RGB, _oklab_to_lms(lab))


def xyz_to_oklab(xyz):
    """CIE XYZ (D65) to Oklab, through Ottosson's M1 and M2."""
    return _lms_to_oklab(_apply(_OKLAB_M1, xyz))


def oklab_to_xyz(lab):
    """Oklab to CIE XYZ (D65)."""
    return _apply(_OKLAB_M1_INV, _oklab_to_lms(lab))


# --------------------------------------------------------------------------
# CIELAB


def xyz_to_lab(xyz, white=D65_WHITE):
    """CIE XYZ to CIELAB (L* 0-100) relative to ``white`` (default D65)."""
    t = np.asarray(xyz, dtype=np.float64) / np.asarray(white, dtype=np.float64)
    f = np.where(t > _LAB_EPSILON, np.cbrt(t), (_LAB_KAPPA * t + 16.0) / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_xyz(lab, white=D65_WHITE):
    """CIELAB to CIE XYZ relative to ``white`` (default D65)."""
    lab = np.asarray(lab, dtype=np.float64)
    f = np.empty_like(lab)
    f[..., 1] = (lab[..., 0] + 16.0) / 116.0
    f[..., 0] = f[..., 1] + lab[..., 1] / 500.0
    f[..., 2] = f[..., 1] - lab[..., 2] / 200.0
    cubed = f ** 3
    t = np.where(cubed > _LAB_EPSILON, cubed, (116.0 * f - 16.0) / _LAB_KAPPA)
    # Y from L* directly below the knee (the CIE definition).
    t[..., 1] = np.where(lab[..., 0] > _LAB_KAPPA * _LAB_EPSILON, cubed[..., 1],
                         lab[..., 0] / _LAB_KAPPA)
    return t * np.asarray(white, dtype=np.float64)


# --------------------------------------------------------------------------
# sRGB (0-255) <-> working spaces


def srgb_to_oklab(srgb):
    """sRGB 0-255 to Oklab.

    Examples
    --------
    >>> np.round(srgb_to_oklab([255, 0, 0]), 4).tolist()
    [0.628, 0.2249, 0.1258]
    """
    return linear_to_oklab(srgb_to_linear(srgb))


def oklab_to_srgb(lab):
    """Oklab to sRGB 0-255 (not clipped)."""
    return linear_to_srgb(oklab_to_linear(lab))


def srgb_to_lab(srgb):
    """sRGB 0-255 to CIELAB (D65).

    Examples
    --------
    >>> np.round(srgb_to_lab([255, 0, 0]), 2).tolist()
    [53.24, 80.09, 67.2]
    """
    return xyz_to_lab(linear_to_xyz(srgb_to_linear(srgb)))


def lab_to_srgb(lab):
    """CIELAB (D65) to sRGB 0-255 (not clipped)."""
    return linear_to_srgb(xyz_to_linear(lab_to_xyz(lab)))


_TO = {"oklab": srgb_to_oklab, "lab": srgb_to_lab}
_FROM = {"oklab": oklab_to_srgb, "lab": lab_to_srgb}

#: Size of one 0-255 sRGB unit in each space's lightness units: the factor
#: that turns ``eps`` (given in 0-255 units) into the working space.
_EPS_SCALE = {"srgb": 1.0, "oklab": 1.0 / 255.0, "lab": 100.0 / 255.0}


def check_color_space(space: str) -> str:
    """Return ``space`` if it is a known colour space, else raise ValueError."""
    if space not in COLOR_SPACES:
        raise ValueError(f"color_space must be one of {', '.join(COLOR_SPACES)}, got {space!r}")
    return space


def to_working(srgb, space: str):
    """sRGB 0-255 values (any shape (..., 3)) as float64 in ``space``.

    ``'srgb'`` returns the values as float64 unchanged.
    """
    check_color_space(space)
    if space == "srgb":
        return np.asarray(srgb, dtype=np.float64)
    return _TO[space](srgb)


def from_working(values, space: str):
    """Values in ``space`` back to float sRGB 0-255 (not clipped or rounded)."""
    check_color_space(space)
    if space == "srgb":
        return np.asarray(values, dtype=np.float64)
    return _FROM[space](values)


def eps_scale(space: str) -> float:
    """The factor from 0-255 sRGB units to ``space``'s units, for ``eps``.

    The lightness range of the space over 255: 1/255 for Oklab (L 0-1),
    100/255 for CIELAB (L* 0-100), 1 for sRGB.
    """
    return _EPS_SCALE[check_color_space(space)]


# --------------------------------------------------------------------------
# Differences and luminance


def delta_e_ok(srgb1, srgb2):
    """ΔE_OK: Euclidean distance in Oklab between sRGB 0-255 colours.

    About 0.02 is a just-noticeable difference (often quoted ×100: 2).
    """
    d = srgb_to_oklab(srgb1) - srgb_to_oklab(srgb2)
    return np.sqrt(np.einsum("...i,...i->...", d, d))


def ciede2000(lab1, lab2):
    """CIE ΔE 2000 between CIELAB colours (kL = kC = kH = 1).

    Follows Sharma, Wu and Dalal (2005) step by step, including their hue
    conventions (h' = 0 when C' = 0; the mean hue of pairs more than 180°
    apart). Vectorised over the leading axes.

    Examples
    --------
    >>> round(float(ciede2000([50, 2.6772, -79.7751], [50, 0, -82.7485])), 4)
    2.0425
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    c7 = c_mean ** 7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0 ** 7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.where(c1p == 0, 0.0, np.degrees(np.arctan2(b1, a1p)) % 360.0)
    h2p = np.where(c2p == 0, 0.0, np.degrees(np.arctan2(b2, a2p)) % 360.0)

    dLp = L2 - L1
    dCp = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dHp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)

    Lp_mean = (L1 + L2) / 2.0
    Cp_mean = (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    far = np.abs(h1p - h2p) > 180.0
    hp_mean = np.where(far, np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0),
                       h_sum / 2.0)
    hp_mean = np.where(c1p * c2p == 0, h_sum, hp_mean)

    t = (1.0 - 0.17 * np.cos(np.radians(hp_mean - 30.0)) + 0.24 * np.cos(np.radians(2.0 * hp_mean))
         + 0.32 * np.cos(np.radians(3.0 * hp_mean + 6.0))
         - 0.20 * np.cos(np.radians(4.0 * hp_mean - 63.0)))
    d_theta = 30.0 * np.exp(-(((hp_mean - 275.0) / 25.0) ** 2))
    cp7 = Cp_mean ** 7
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + 25.0 ** 7))
    l50 = (Lp_mean - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * Cp_mean
    s_h = 1.0 + 0.015 * Cp_mean * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl, tc, th = dLp / s_l, dCp / s_c, dHp / s_h
    return np.sqrt(tl * tl + tc * tc + th * th + r_t * tc * th)


def luminance(srgb):
    """Relative luminance Y (0-1) of sRGB 0-255 colours (linear-light weights).

    Examples
    --------
    >>> luminance([[255, 255, 255], [0, 0, 0]]).round(6).tolist()
    [1.0, 0.0]
    """
    return _apply(_RGB_TO_XYZ, srgb_to_linear(srgb))[..., 1]
