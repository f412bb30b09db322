"""What the style_transfer tests build for themselves: small models, photos and clips.

Nothing here reads a file from outside the repository. `conftest.py` turns the common
ones into fixtures; a test module or the bad-input sweep imports the rest from here.
"""

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

    def fixed(value):  # s15Fixed16Number
        return struct.pack(">i", round(value * 65536))

    def xyz(values):
        return b"XYZ \0\0\0\0" + b"".join(fixed(value) for value in values)

    if isinstance(curve, tuple):
        trc = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(map(fixed, curve))
    else:
        trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(curve * 256))
    text = description.encode("ascii") + b"\0"
    tags = [(b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)),
            (b"wtpt", xyz(_D50)), (b"cprt", b"text\0\0\0\0none\0")]
    if colorants is None:
        space = b"GRAY"
        tags.append((b"kTRC", trc))
    else:
        space = b"RGB "
        tags += [(name, xyz(np.asarray(colorants)[:, k])) for k, name in
                 enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]
        tags += [(name, trc) for name in (b"rTRC", b"gTRC", b"bTRC")]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for name, body in tags:
        body += bytes(-len(body) % 4)
        table += name + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (struct.pack(">I4sI", start + len(data), b"", 0x02100000) + b"mntr" + space
              + b"XYZ " + bytes(12) + b"acsp" + bytes(28) + b"".join(map(fixed, _D50)))
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def srgb_from_adobe_rgb(pixels):
    """Adobe RGB uint8 pixels in sRGB, floats in [0, 1]: the ICC arithmetic in numpy (linear
    light, through D50 XYZ, clipped to sRGB's gamut), a reference for colour management."""
    linear = (np.asarray(pixels) / 255.0) ** ADOBE_RGB_GAMMA
    linear = np.clip(linear @ (np.linalg.inv(SRGB_COLORANTS) @ ADOBE_RGB_COLORANTS).T, 0, 1)
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
