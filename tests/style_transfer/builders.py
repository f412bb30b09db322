"""What the style_transfer tests build for themselves: small models, photos and clips.

Nothing here reads a file from outside the repository. `conftest.py` turns the common
ones into fixtures; a test module or the bad-input sweep imports the rest from here.
"""

import itertools
import json
import struct
import zipfile

import keras
import numpy as np
from PIL import Image

from style_transfer.models.network import StyleTransferNetwork

NAMES = ["wave", "scream", "udnie"]


def untrained_model_with_distinct_styles(seed=0):
    """An untrained network whose gamma/beta rows are random, so that styles differ.

    Every weight follows from `seed`, whatever other tests drew from Keras's generator before.
    """
    keras.utils.set_random_seed(seed)
    model = StyleTransferNetwork(len(NAMES), alpha=0.25, style_names=NAMES)
    model.build()
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if variable.path.endswith(("gamma", "beta")):
            center = 1.0 if variable.path.endswith("gamma") else 0.0
            variable.assign(rng.normal(center, 0.3, variable.shape).astype("float32"))
    return model


def write_photo(path, width=21, height=17, seed=0, mode="RGB"):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)
    return str(path)


def photo_array(seed=0, height=90, width=120):
    """A smooth photo-like picture (gradients and a disc), uint8."""
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    rng = np.random.default_rng(seed)
    phase = rng.random(3) * 6
    picture = 0.5 + 0.4 * np.sin(6 * rows[..., None] + 4 * columns[..., None] + phase)
    picture[np.hypot(rows - 0.35, columns - 0.5) < 0.2] = rng.random(3)
    return np.round(picture * 255).astype(np.uint8)


# Colorants (columns: red, green, blue) in XYZ, adapted to D50 as ICC profiles store them.
ADOBE_RGB_COLORANTS = np.array([[0.6097559, 0.2052401, 0.1492240],
                                [0.3111242, 0.6256560, 0.0632197],
                                [0.0194811, 0.0608902, 0.7448387]])
ADOBE_RGB_GAMMA = 563 / 256
SRGB_COLORANTS = np.array([[0.4360747, 0.3850649, 0.1430804],
                           [0.2225045, 0.7168786, 0.0606169],
                           [0.0139322, 0.0971045, 0.7141733]])
# sRGB's curve as an ICC parametric curve of type 3: (g, a, b, c, d).
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
_D50 = (0.9642, 1.0, 0.8249)


def icc_profile(description, curve, colorants=None):
    """A minimal ICC v2 display profile (bytes): RGB with `colorants` (3 x 3, columns red,
    green, blue in D50 XYZ) or greyscale without; `curve` is a gamma (a number) or the 5
    parameters of a type-3 parametric curve (`SRGB_CURVE`). What a camera or a phone
    embeds, made here, since Pillow creates only sRGB, LAB and XYZ profiles."""
    if isinstance(curve, tuple):
        trc = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(map(_fixed, curve))
    else:
        trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(curve * 256))
    if colorants is None:
        return _icc(b"mntr", b"GRAY", b"XYZ ", description, [(b"kTRC", trc)])
    tags = [(name, _xyz(np.asarray(colorants)[:, k])) for k, name in
            enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]
    tags += [(name, trc) for name in (b"rTRC", b"gTRC", b"bTRC")]
    return _icc(b"mntr", b"RGB ", b"XYZ ", description, tags)


def _icc(device_class, space, connection_space, description, tags):
    """An ICC v2 profile (bytes): the 128-byte header, the tag table, and the tags: 'desc',
    'wtpt' (D50: the tables are relative to the medium's white) and 'cprt', then `tags`
    ((signature, body) pairs)."""
    text = description.encode("ascii") + b"\0"
    tags = [(b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)),
            (b"wtpt", _xyz(_D50)), (b"cprt", b"text\0\0\0\0none\0"), *tags]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for name, body in tags:
        body += bytes(-len(body) % 4)
        table += name + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (struct.pack(">I4sI", start + len(data), b"", 0x02100000) + device_class + space
              + connection_space + bytes(12) + b"acsp" + bytes(28) + b"".join(map(_fixed, _D50)))
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def _fixed(value):  # s15Fixed16Number
    return struct.pack(">i", round(value * 65536))


def _xyz(values):
    return b"XYZ \0\0\0\0" + b"".join(_fixed(value) for value in values)


def srgb_from_adobe_rgb(pixels):
    """Adobe RGB uint8 pixels in sRGB, floats in [0, 1]: the ICC arithmetic in numpy (linear
    light, through D50 XYZ, clipped to sRGB's gamut), a reference for colour management."""
    linear = (np.asarray(pixels) / 255.0) ** ADOBE_RGB_GAMMA
    linear = np.clip(linear @ (np.linalg.inv(SRGB_COLORANTS) @ ADOBE_RGB_COLORANTS).T, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


# A made-up press, for CMYK profiles. Each ink is a filter over the paper's light: at full
# cover it passes these fractions of linear sRGB red, green and blue (rows cyan, magenta,
# yellow, black), so every print of it is inside sRGB's gamut and no conversion clips.
# Cyan, magenta and yellow at full cover make a neutral grey, and all four a neutral black.
_CYAN, _MAGENTA = np.array([0.2, 0.65, 0.9]), np.array([0.85, 0.25, 0.6])
PRESS_INKS = np.stack([_CYAN, _MAGENTA, 0.95 * (_CYAN * _MAGENTA).min() / (_CYAN * _MAGENTA),
                       np.full(3, 0.06)])
PRESS_GRID_POINTS = 9


def press_dot_gain(cover):
    """The ink cover (in [0, 1]) the press prints for a pixel's: a 50% dot prints as 65%."""
    return cover + 0.6 * cover * (1 - cover)


def press_lab(cover):
    """CIE Lab (D50) of the made-up press's print of ink `cover` (..., 4), in [0, 1]."""
    light = np.prod(1 - np.asarray(cover)[..., :, None] * (1 - PRESS_INKS), axis=-2)
    return _lab_from_xyz(light @ SRGB_COLORANTS.T)


def cmyk_icc_profile(description="Made-up press CMYK", grid_points=PRESS_GRID_POINTS):
    """A minimal ICC v2 output profile (bytes) of the made-up press, CMYK to PCS Lab: an 'A2B0'
    table (lut16Type) of input curves (the press's dot gain, 256 entries), a grid of
    `press_lab` of `grid_points` per ink, and output curves that change nothing. What a
    print workflow embeds in a CMYK JPEG or TIFF (ISO Coated, SWOP), made here; LittleCMS
    reads CMYK through it without the other direction's table ('B2A0')."""
    entries = 256
    curve = np.round(press_dot_gain(np.linspace(0, 1, entries)) * 65535)
    lightness, a, b = np.moveaxis(_press_grid(grid_points), -1, 0)
    # Lab in ICC v2's 16-bit encoding: L* 100 is 0xFF00; a* and b* -128 are 0, 0 is 0x8000.
    grid = np.stack([lightness * 0xFF00 / 100, (a + 128) * 256, (b + 128) * 256], -1)
    table = (b"mft2\0\0\0\0" + struct.pack(">BBBx", 4, 3, grid_points)
             + b"".join(map(_fixed, np.eye(3).ravel()))  # a matrix for XYZ input only
             + struct.pack(">HH", entries, 2)
             + np.tile(curve, 4).astype(">u2").tobytes()
             + np.round(grid).astype(">u2").tobytes()  # cyan varies slowest, black fastest
             + np.tile([0, 65535], 3).astype(">u2").tobytes())
    return _icc(b"prtr", b"CMYK", b"Lab ", description, [(b"A2B0", table)])


def srgb_from_press_cmyk(pixels, grid_points=PRESS_GRID_POINTS):
    """CMYK uint8 pixels (..., 4) printed by the made-up press, in sRGB, floats in [0, 1]: the
    arithmetic of `cmyk_icc_profile`'s table in numpy, a reference for colour management.

    The pixels' cover through the dot gain, the grid interpolated multilinearly (LittleCMS
    interpolates linearly in cyan and by tetrahedra in the other three inks: on a grid of 9
    points the two differ by a level and a half of 255 at most), Lab to XYZ; then the black point
    compensation LittleCMS applies in a perceptual conversion to its sRGB profile (version
    4): XYZ scaled towards D50 white so that the press's black (every ink at 100%) becomes
    sRGB's black; then XYZ to linear sRGB and sRGB's curve.
    """
    grid = _press_grid(grid_points)
    xyz = _xyz_from_lab(_multilinear(grid, press_dot_gain(np.asarray(pixels) / 255.0)))
    black, white = _xyz_from_lab(grid[-1, -1, -1, -1]), np.asarray(_D50)
    linear = ((xyz - black) * white / (white - black)) @ np.linalg.inv(SRGB_COLORANTS).T
    return _srgb_curve(np.clip(linear, 0, 1))


def _press_grid(grid_points):
    """`press_lab` at `grid_points` covers of each ink, (n, n, n, n, 3), cyan first."""
    axis = np.linspace(0, 1, grid_points)
    return press_lab(np.stack(np.meshgrid(axis, axis, axis, axis, indexing="ij"), -1))


def _multilinear(grid, points):
    """`grid` (n, ..., n, channels) over the unit cube, interpolated at `points` (..., dims)."""
    last = grid.shape[0] - 1
    cell = np.minimum(np.floor(points * last).astype(int), last - 1)
    fraction = np.moveaxis(points * last - cell, -1, 0)
    value = 0
    for corner in itertools.product((0, 1), repeat=len(fraction)):
        weight = np.prod([f if high else 1 - f for high, f in zip(corner, fraction)], axis=0)
        value = value + weight[..., None] * grid[tuple(np.moveaxis(cell + corner, -1, 0))]
    return value


def _lab_from_xyz(xyz):
    ratio = xyz / np.asarray(_D50)
    f = np.where(ratio > 216 / 24389, np.cbrt(ratio), (24389 / 27 * ratio + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], -1)


def _xyz_from_lab(lab):
    lightness, a, b = np.moveaxis(np.asarray(lab, float), -1, 0)
    f = np.stack([(lightness + 16) / 116 + a / 500, (lightness + 16) / 116,
                  (lightness + 16) / 116 - b / 200], -1)
    return np.asarray(_D50) * np.where(f > 6 / 29, f ** 3, (116 * f - 16) * 27 / 24389)


def _srgb_curve(linear):
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


FPS = 12
NUM_FRAMES = 12
SIZE = (48, 32)
SAMPLE_RATE = 16000


def write_clip(path, num_frames=NUM_FRAMES, fps=FPS, size=SIZE, sound=True,
               sample_rate=SAMPLE_RATE):
    """An H.264 clip of a bar sliding over a gradient, with a 440 Hz AAC tone as long as it
    (needs PyAV, the [video] extra)."""
    import av

    width, height = size
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if sound:
            audio = output.add_stream("aac", rate=sample_rate)
            audio.layout = "mono"
        gradient = np.linspace(40, 200, width, dtype=np.float32)
        for t in range(num_frames):
            picture = np.empty((height, width, 3), np.uint8)
            picture[...] = gradient[None, :, None].astype(np.uint8)
            picture[:, 2 * t: 2 * t + 6] = (230, 60, 20)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        output.mux(stream.encode(None))
        if sound:
            total = sample_rate * num_frames // fps
            for start in range(0, total, 1024):
                count = min(1024, total - start)
                tone = 0.3 * np.sin(2 * np.pi * 440 * (start + np.arange(count)) / sample_rate)
                frame = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="flt",
                                                   layout="mono")
                frame.sample_rate, frame.pts = sample_rate, start
                output.mux(audio.encode(frame))
            output.mux(audio.encode(None))
    return str(path)


def with_config(source, destination, change):
    """A copy of the model file `source` whose model config `change` edits in place; returns
    `destination`."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(destination, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config["config"])
                data = json.dumps(config).encode()
            copy.writestr(item, data)
    return destination
