"""The training input: an endless, seeded and resumable stream of random crops of content photos.

Sample n of the stream is a pure function of the sorted list of readable files, the seed and n:
epoch e = n // num_files shows every file once, in an order that is a permutation drawn from
(seed, e); the crop position and the horizontal flip are drawn from (seed, n). A run resumed
at step k therefore asks for `start_sample=k * batch_size` and gets the batches it would have
had, without decoding the images it skips.
"""

import atexit
import concurrent.futures
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from style_transfer.base import images
from style_transfer.base.errors import BadInput
from style_transfer.base.settings import shown_value

# Decoded, resized uint8 images up to this size are kept in memory (at 256 px, about
# 2,000 photos of 4:3 shape); larger folders are decoded on the fly.
CACHE_BUDGET_BYTES = 512 * 2**20

_SCAN_THREADS = 8
_LISTED_NAMES = 5


class UnreadableImageWarning(UserWarning):
    """Some files of a content folder are not readable images and are left out."""


def content_dataset(
    folder, image_size, batch_size, seed=0, start_sample=0, *, random_flip=True, cache=None,
    keep=None, with_sample_index=False, warn=True,
):
    """An endless `tf.data.Dataset` of random square crops of the photos in a folder.

    Each image found under `folder` (recursively, see `images.find_images`) is read
    with `images.load_pil`, so every format and colour mode reads as RGB; it is
    resized (Lanczos) so that its shorter side is `image_size`, keeping its aspect
    ratio, and a random `image_size` x `image_size` crop is taken, flipped left-right
    with probability 1/2 when `random_flip`. A crop of a single colour (a blank
    wall, an all-black image) gets noise below the 8-bit step, without which the
    network's instance normalizations make its gradient overflow
    (`_dither_if_one_colour`).

    Files are checked when the dataset is built by reading their headers only; files
    that are not readable images are left out with one `UnreadableImageWarning` that
    counts and names them. A file that passes this check but fails to decode later
    does not stop training: its samples use the next file (in sorted order) that
    decodes, and a warning names it.

    Small folders are decoded once and kept in memory; larger ones are decoded on the
    fly in parallel. Both give the same batches.

    Args:
        folder: Folder of content images.
        image_size: Side of the square crops in pixels.
        batch_size: Crops per batch.
        seed: Integer that, with the file list, fixes the whole stream: a 64-bit
            integer (-2**63 to 2**63 - 1), TensorFlow's stateless seeds (the runs pass
            their `seed` + 1, from 1 to 2**31).
        start_sample: Index of the first sample in the stream: a run resumed after
            k steps passes `k * batch_size`. The skipped samples are not decoded.
        random_flip: Flip each crop left-right with probability 1/2.
        cache: True to decode every image once and keep it in memory, False to
            decode on the fly, None to cache when the resized images fit in
            `CACHE_BUDGET_BYTES`.
        keep: `(count, period)`: from `start_sample` on, only the first `count`
            samples of every `period` (a worker's share of each global batch under
            `tf.distribute`); the others are skipped before they are decoded.
        with_sample_index: Yield `(sample indices (batch_size,) int64, crops)`.
        warn: Warn of the files left out (`False` for a second dataset of the same
            folder in one run, which would repeat the warning).

    Returns:
        A dataset of float32 batches `(batch_size, image_size, image_size, 3)` with
        values in [0, 1] that never ends.

    Raises:
        BadInput (a ValueError): `image_size` or `batch_size` is not a positive integer,
            `start_sample` is negative, `seed` is not a 64-bit integer, or `folder` is
            missing or holds no readable image (`images.ImageFolderError` for a missing
            folder).
    """
    _check_integer("image_size", image_size, minimum=1)
    _check_integer("batch_size", batch_size, minimum=1)
    _check_integer("start_sample", start_sample, minimum=0)
    _check_integer("seed", seed, minimum=None)
    if not -(2**63) <= seed < 2**63:  # tf.int64: TensorFlow would refuse it at the first batch
        raise BadInput(f"seed must be a 64-bit integer, from {-(2**63)} to {2**63 - 1}; got "
                       f"{shown_value(seed)}.")

    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore", UnreadableImageWarning)
        files, sizes = _readable_images(folder)
        if cache is None:
            cache = _resized_bytes(sizes, image_size) <= CACHE_BUDGET_BYTES
        if cache:
            files, decoded = _decode_all(folder, files, image_size)
    load = _cached_loader(decoded) if cache else _decoding_loader(files, image_size)

    order_key, sample_key = _stream_keys(seed)
    samples = _sample_files(len(files), order_key, start_sample)
    if keep is not None:
        count, period = keep
        samples = samples.filter(lambda sample, file_index:
                                 (sample - start_sample) % period < count)

    # The mapped functions are plain graph code; skipping AutoGraph's conversion
    # makes building the dataset faster.
    @tf.autograph.experimental.do_not_convert
    def crop(sample, file_index):
        image = load(file_index)
        sample_seed = tf.stack([sample_key, sample])
        cropped = _random_crop(image, image_size, sample_seed, random_flip)
        return (sample, cropped) if with_sample_index else cropped

    return (
        samples.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _check_integer(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise BadInput(f"{name} must be an integer; got {value!r}.")
    if minimum is not None and value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise BadInput(f"{name} must be {expected}; got {value!r}.")


def _readable_images(folder):
    """The image files under `folder` whose header Pillow reads, and their (width, height)."""
    folder = Path(folder)
    candidates = images.find_images(folder)

    def header_size(path):
        try:
            with images.open_image(path) as image:
                return image.size
        except images.ImageReadError:
            return None

    with concurrent.futures.ThreadPoolExecutor(_SCAN_THREADS) as pool:
        header_sizes = list(pool.map(header_size, candidates))
    files = [path for path, size in zip(candidates, header_sizes) if size is not None]
    sizes = [size for size in header_sizes if size is not None]
    unreadable = [path for path, size in zip(candidates, header_sizes) if size is None]

    if not files:
        raise BadInput(
            f"No readable image in content folder {folder}: found {len(candidates)} files with "
            f"an image extension ({', '.join(images.IMAGE_EXTENSIONS)}), none readable."
        )
    if unreadable:
        warnings.warn(
            f"Skipped {len(unreadable)} of {len(candidates)} files in {folder} that are not "
            f"readable images: {_list_names(unreadable, folder)}.",
            UnreadableImageWarning,
            stacklevel=3,
        )
    return files, sizes


def _list_names(paths, folder):
    names = [str(path.relative_to(folder)) for path in paths[:_LISTED_NAMES]]
    if len(paths) > _LISTED_NAMES:
        names.append(f"and {len(paths) - _LISTED_NAMES} more")
    return ", ".join(names)


def _resized_bytes(sizes, image_size):
    """Bytes of the uint8 images once their shorter side is `image_size`."""
    return sum(round(image_size * max(size) / min(size)) * image_size * 3 for size in sizes)


def _decode_resized(path, image_size):
    return np.asarray(images.load_pil(path, shorter_side=image_size))


def _decode_all(folder, files, image_size):
    """Decodes every file; leaves out, with a warning, those whose data is corrupt."""

    def decode(path):
        try:
            return _decode_resized(path, image_size)
        except images.ImageReadError:
            return None

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        decoded = list(pool.map(decode, files))
    failed = [path for path, image in zip(files, decoded) if image is None]
    if len(failed) == len(files):
        raise BadInput(f"No image in content folder {folder} can be decoded.")
    if failed:
        warnings.warn(
            f"Skipped {len(failed)} of {len(files)} images in {folder} whose data cannot be "
            f"decoded: {_list_names(failed, Path(folder))}.",
            UnreadableImageWarning,
            stacklevel=3,
        )
    kept = [(path, image) for path, image in zip(files, decoded) if image is not None]
    return [path for path, _ in kept], [image for _, image in kept]


def _cached_loader(decoded):
    """Looks images up by file index in one flat in-memory uint8 tensor, all in graph ops."""
    pixels = tf.constant(np.concatenate([image.reshape(-1) for image in decoded]))
    shapes = tf.constant([image.shape[:2] for image in decoded], tf.int64)
    starts = tf.constant(np.cumsum([0] + [image.size for image in decoded[:-1]]), tf.int64)

    def load(file_index):
        height, width = shapes[file_index][0], shapes[file_index][1]
        start = starts[file_index]
        return tf.reshape(pixels[start : start + height * width * 3], tf.stack([height, width, 3]))

    return load


class _FallbackDecoder:
    """Decodes file i; if its data is corrupt, the next file in order that decodes."""

    def __init__(self, files, image_size):
        self.files = files
        self.image_size = image_size
        self.failed = set()
        self._lock = threading.Lock()

    def __call__(self, file_index):
        if not _DECODES.begin():
            return np.zeros((self.image_size, self.image_size, 3), np.uint8)
        try:
            return self._decode_or_fall_back(int(file_index))
        finally:
            _DECODES.end()

    def _decode_or_fall_back(self, file_index):
        num_files = len(self.files)
        for step in range(num_files):
            index = (file_index + step) % num_files
            if index in self.failed:
                continue
            try:
                return _decode_resized(self.files[index], self.image_size)
            except images.ImageReadError as error:
                self._record_failure(index, error)
        raise images.ImageReadError(f"None of the {num_files} content images can be decoded.")

    def _record_failure(self, index, error):
        with self._lock:
            if index in self.failed:
                return
            self.failed.add(index)
            warnings.warn(
                f"{error} Its samples use the next image that decodes instead "
                f"({len(self.failed)} of {len(self.files)} content files failed so far).",
                UnreadableImageWarning,
                stacklevel=2,
            )


class _DecodesInFlight:
    """Counts the Pillow decodes running on tf.data threads, and stops them at exit.

    A tf.data iterator still alive when Python exits (a global in a script or a
    notebook) is destroyed after the interpreter has stopped letting other threads
    in; its destructor would then wait forever for a decode that cannot finish. So
    at exit, before that, decodes return a blank image at once, and we wait until
    none runs and the pipeline's buffers are full (no call for a while).
    """

    QUIET_SECONDS = 0.2
    MAX_WAIT_SECONDS = 10.0

    def __init__(self):
        self._lock = threading.Lock()
        self._running = 0
        self._last_activity = 0.0
        self._exiting = False

    def begin(self):
        """False once Python is exiting: the caller must return without decoding."""
        with self._lock:
            self._last_activity = time.monotonic()
            if self._exiting:
                return False
            self._running += 1
            return True

    def end(self):
        with self._lock:
            self._running -= 1
            self._last_activity = time.monotonic()

    def stop_and_wait(self):
        with self._lock:
            self._exiting = True
        deadline = time.monotonic() + self.MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                if self._running == 0 and time.monotonic() - self._last_activity > self.QUIET_SECONDS:
                    return
            time.sleep(0.01)


_DECODES = _DecodesInFlight()
atexit.register(_DECODES.stop_and_wait)


def _decoding_loader(files, image_size):
    # Pillow releases the GIL while decoding and resizing, so parallel map calls of
    # this Python function decode on several cores at once.
    decoder = _FallbackDecoder(files, image_size)

    def load(file_index):
        image = tf.numpy_function(decoder, [file_index], tf.uint8)
        return tf.ensure_shape(image, [None, None, 3])

    return load


def _stream_keys(seed):
    """Two independent Philox keys: one for the epoch orders, one for per-sample randoms."""
    keys = tf.random.stateless_uniform(
        [2], seed=tf.constant([seed, 0], tf.int64), minval=None, maxval=None, dtype=tf.int64, alg="philox"
    )
    return keys[0], keys[1]


def _sample_files(num_files, order_key, start_sample):
    """Dataset of (sample index, file index) from `start_sample` on, without end."""
    first_epoch = start_sample // num_files

    @tf.autograph.experimental.do_not_convert
    def epoch_samples(epoch):
        random_keys = tf.random.stateless_uniform(
            [num_files], seed=tf.stack([order_key, epoch]), minval=None, maxval=None, dtype=tf.int64, alg="philox"
        )
        order = tf.cast(tf.argsort(random_keys, stable=True), tf.int64)
        sample = epoch * num_files + tf.range(num_files, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices((sample, order))

    return (
        tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
        .flat_map(epoch_samples)
        .skip(start_sample - first_epoch * num_files)
    )


def _random_crop(image, image_size, seed, random_flip):
    """A seeded `image_size` square crop of a uint8 image, as float32 in [0, 1]."""
    randoms = tf.random.stateless_uniform([3], seed=seed, alg="philox")
    height, width = tf.shape(image, out_type=tf.int64)[0], tf.shape(image, out_type=tf.int64)[1]
    top = _random_offset(randoms[0], height - image_size)
    left = _random_offset(randoms[1], width - image_size)
    crop = image[top : top + image_size, left : left + image_size]
    if random_flip:
        crop = tf.cond(randoms[2] < 0.5, lambda: tf.reverse(crop, axis=[1]), lambda: crop)
    crop = tf.ensure_shape(crop, [image_size, image_size, 3])
    return _dither_if_one_colour(tf.cast(crop, tf.float32) / 255.0, seed)


def _dither_if_one_colour(crop, seed):
    """A crop of a single colour (a blank wall, a saturated sky, a black frame, a 1x1
    image) with seeded noise below the 8-bit step added; any other crop as it is.

    Every feature map of the network is then constant too, and instance
    normalization of a map without variance divides 0 by sqrt(epsilon): each of
    its 16 normalizations multiplies the gradient by 1/sqrt(epsilon) (about 32),
    and the float sums that should cancel to 0 reach 1e27 and overflow within a
    few steps. A photo is only known to within its 8-bit step, so noise of half
    a step changes nothing a viewer could see, and the variance it gives is
    multiplied back to unit scale within two or three normalizations.
    """
    one_colour = tf.reduce_all(crop == crop[:1, :1])

    def dithered():
        noise = tf.random.stateless_uniform(
            tf.shape(crop), seed=tf.random.experimental.stateless_fold_in(seed, 1),
            minval=-0.5 / 255.0, maxval=0.5 / 255.0, alg="philox")
        return tf.clip_by_value(crop + noise, 0.0, 1.0)

    return tf.cond(one_colour, dithered, lambda: crop)


def _random_offset(uniform, max_offset):
    """An integer in [0, max_offset] from a uniform float in [0, 1)."""
    offset = tf.cast(tf.floor(uniform * tf.cast(max_offset + 1, tf.float32)), tf.int64)
    return tf.minimum(offset, max_offset)
