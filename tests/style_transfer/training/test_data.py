"""The content-image input pipeline (`style_transfer.training.data.content_dataset`)."""

import io
import itertools
import warnings

import numpy as np
import pytest
from PIL import Image

from style_transfer.base import images
from style_transfer.training import data

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]


def _write_solid_images(folder, colours=COLOURS, size=(24, 16)):
    """One PNG per colour; a crop's mean colour tells which file it came from."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, colour in enumerate(colours):
        Image.new("RGB", size, colour).save(folder / f"solid_{index}.png")
    return folder


def _write_noise_images(folder, sizes=((30, 20), (12, 40), (16, 16), (9, 7))):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index, (width, height) in enumerate(sizes):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"noise_{index}.png")
    return folder


def _write_truncated_png(path):
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _batches(dataset, count):
    return [batch.numpy() for batch in itertools.islice(dataset, count)]


def _crop_colours(batch):
    """The solid colour of each crop in a batch, as tuples of 0..255 integers."""
    return [tuple(int(value) for value in np.round(crop.mean(axis=(0, 1)) * 255)) for crop in batch]


def test_batches_are_float32_squares_in_unit_range(tmp_path):
    dataset = data.content_dataset(_write_noise_images(tmp_path / "photos"), image_size=12, batch_size=3)
    assert dataset.element_spec.shape == (3, 12, 12, 3)
    for batch in _batches(dataset, 4):
        assert batch.shape == (3, 12, 12, 3) and batch.dtype == np.float32
        assert batch.min() >= 0.0 and batch.max() <= 1.0


def test_the_stream_does_not_end(tmp_path):
    folder = _write_solid_images(tmp_path / "photos", COLOURS[:2])
    assert len(_batches(data.content_dataset(folder, 8, 3), 10)) == 10


@pytest.mark.slow
def test_same_seed_gives_same_batches(tmp_path):
    folder = _write_noise_images(tmp_path / "photos")
    first = _batches(data.content_dataset(folder, 8, 2, seed=7), 5)
    second = _batches(data.content_dataset(folder, 8, 2, seed=7), 5)
    np.testing.assert_array_equal(np.stack(first), np.stack(second))


@pytest.mark.slow
def test_different_seeds_give_different_batches(tmp_path):
    folder = _write_noise_images(tmp_path / "photos")
    first = _batches(data.content_dataset(folder, 8, 2, seed=7), 5)
    second = _batches(data.content_dataset(folder, 8, 2, seed=8), 5)
    assert not np.array_equal(np.stack(first), np.stack(second))


@pytest.mark.slow
@pytest.mark.parametrize("cache, resumed_steps", [(True, 3), (False, 3), (False, 7)])
def test_resuming_at_start_sample_continues_the_stream(tmp_path, cache, resumed_steps):
    folder = _write_noise_images(tmp_path / "photos")
    batch_size = 3
    stream = _batches(data.content_dataset(folder, 8, batch_size, seed=3, cache=cache), 10)
    resumed = data.content_dataset(
        folder, 8, batch_size, seed=3, start_sample=resumed_steps * batch_size, cache=cache
    )
    np.testing.assert_array_equal(np.stack(_batches(resumed, 10 - resumed_steps)), np.stack(stream[resumed_steps:]))


def test_resuming_does_not_decode_the_skipped_samples(tmp_path, monkeypatch):
    folder = _write_noise_images(tmp_path / "photos")
    decoded = []
    load_pil = images.load_pil

    def counting_load_pil(path, *args, **kwargs):
        decoded.append(path)
        return load_pil(path, *args, **kwargs)

    monkeypatch.setattr(data.images, "load_pil", counting_load_pil)
    resumed = data.content_dataset(folder, 8, 2, start_sample=10**6, cache=False)
    _batches(resumed, 1)
    assert len(decoded) < 100


@pytest.mark.slow
def test_cached_and_decoded_streams_are_equal(tmp_path):
    folder = _write_noise_images(tmp_path / "photos")
    cached = _batches(data.content_dataset(folder, 8, 2, seed=5, cache=True), 6)
    decoded = _batches(data.content_dataset(folder, 8, 2, seed=5, cache=False), 6)
    np.testing.assert_array_equal(np.stack(cached), np.stack(decoded))


def test_each_epoch_shows_every_file_once_in_a_new_order(tmp_path):
    folder = _write_solid_images(tmp_path / "photos")
    epochs = [_crop_colours(batch) for batch in _batches(data.content_dataset(folder, 8, len(COLOURS)), 4)]
    for epoch in epochs:
        assert sorted(epoch) == sorted(COLOURS)
    assert len({tuple(epoch) for epoch in epochs}) > 1


@pytest.mark.slow
def test_crops_are_flipped_only_with_random_flip(tmp_path):
    # One image whose values increase from left to right, 16 px high: crops keep
    # that direction unless flipped.
    folder = tmp_path / "photos"
    folder.mkdir()
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (16, 1, 3))
    Image.fromarray(ramp).save(folder / "ramp.png")

    def directions(random_flip):
        batch = _batches(data.content_dataset(folder, 16, 16, random_flip=random_flip), 1)[0]
        return {bool(crop[0, -1, 0] > crop[0, 0, 0]) for crop in batch}

    assert directions(random_flip=False) == {True}
    assert directions(random_flip=True) == {True, False}


@pytest.mark.slow
def test_a_crop_of_one_colour_varies_by_less_than_the_8_bit_step(tmp_path):
    # Without variation, every instance normalization of the network divides 0 by
    # sqrt(epsilon) and training overflows (test_training.py trains on such photos).
    folder = _write_solid_images(tmp_path / "photos", [(0, 0, 0), (255, 255, 255),
                                                       (40, 90, 200)])
    Image.new("RGB", (1, 1), (90, 20, 250)).save(folder / "one_pixel.png")
    crops = np.concatenate(_batches(data.content_dataset(folder, 12, 4, seed=2), 2))
    colours = np.array([(0, 0, 0), (255, 255, 255), (40, 90, 200), (90, 20, 250)]) / 255
    for crop in crops:
        colour = colours[np.abs(crop - colours[:, None, None, :]).max(axis=(1, 2, 3)).argmin()]
        assert np.abs(crop - colour).max() <= 0.5 / 255 + 1e-7
        assert crop.std(axis=(0, 1)).min() > 0.05 / 255
    again = np.concatenate(_batches(data.content_dataset(folder, 12, 4, seed=2), 2))
    np.testing.assert_array_equal(crops, again)


def test_a_crop_of_several_colours_is_not_dithered(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    two_colours = np.zeros((16, 16, 3), np.uint8)
    two_colours[:, 8:] = 255
    Image.fromarray(two_colours).save(folder / "halves.png")
    crop = _batches(data.content_dataset(folder, 16, 1, random_flip=False), 1)[0][0]
    np.testing.assert_array_equal(crop, two_colours / np.float32(255))


def test_unreadable_files_are_skipped_with_one_counted_warning(tmp_path):
    folder = _write_solid_images(tmp_path / "photos", COLOURS[:3])
    (folder / "notes.jpg").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = data.content_dataset(folder, 8, 6)
    messages = [str(w.message) for w in caught if issubclass(w.category, data.UnreadableImageWarning)]
    assert len(messages) == 1
    assert "Skipped 2 of 5 files" in messages[0]
    assert "notes.jpg" in messages[0] and "empty.png" in messages[0]
    assert set(_crop_colours(_batches(dataset, 1)[0])) == set(COLOURS[:3])


@pytest.mark.parametrize("cache", [True, False])
def test_a_file_that_fails_to_decode_later_is_replaced(tmp_path, cache):
    folder = _write_solid_images(tmp_path / "photos", COLOURS[:3])
    _write_truncated_png(folder / "solid_1_truncated.png")  # header fine, data cut
    with pytest.warns(data.UnreadableImageWarning, match="solid_1_truncated.png"):
        dataset = data.content_dataset(folder, 8, 4, cache=cache)
        batches = _batches(dataset, 4)
    colours = {colour for batch in batches for colour in _crop_colours(batch)}
    assert colours == set(COLOURS[:3])


def test_images_in_subfolders_are_used(tmp_path):
    folder = tmp_path / "photos"
    _write_solid_images(folder / "a", COLOURS[:1])
    _write_solid_images(folder / "b" / "c", COLOURS[1:2])
    batch = _batches(data.content_dataset(folder, 8, 4), 1)[0]
    assert set(_crop_colours(batch)) == set(COLOURS[:2])


def test_empty_folder_raises_naming_it(tmp_path):
    folder = tmp_path / "no_photos"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing here")
    with pytest.raises(ValueError, match="no_photos"):
        data.content_dataset(folder, 8, 2)


def test_folder_of_only_unreadable_files_raises_naming_it(tmp_path):
    folder = tmp_path / "bad_photos"
    folder.mkdir()
    (folder / "a.jpg").write_text("not an image")
    (folder / "b.png").write_bytes(b"")
    with pytest.raises(ValueError, match="bad_photos.*none readable"):
        data.content_dataset(folder, 8, 2)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        data.content_dataset(tmp_path / "missing", 8, 2)


@pytest.mark.parametrize(
    "arguments, name",
    [
        ({"image_size": 0}, "image_size"),
        ({"image_size": -8}, "image_size"),
        ({"image_size": 8.0}, "image_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"start_sample": -1}, "start_sample"),
        ({"seed": 2**63}, "seed must be a 64-bit integer"),
        ({"seed": -(2**63) - 1}, "seed must be a 64-bit integer"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_invalid_arguments_raise_naming_them(tmp_path, arguments, name):
    folder = _write_solid_images(tmp_path / "photos", COLOURS[:1])
    with pytest.raises(ValueError, match=name):
        data.content_dataset(folder, **{"image_size": 8, "batch_size": 2, **arguments})
