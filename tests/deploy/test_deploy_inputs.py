"""`zoo predict`'s inputs (zoo.deploy.inputs) for one- and three-channel models: exact
pixels for what needs no change, and for `--adapt` (alpha, palette, 16-bit, resizing,
[N, H, W, C] arrays) the values an independent numpy computation gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoo.deploy.inputs import read_inputs
from zoo.errors import DataError

GREY, RGB = (1, 28, 28), (3, 32, 32)


def _rgb(h, w, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, in the fixed point Pillow documents for RGB -> L."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.float32)


def _one(path, shape, adapt=True) -> np.ndarray:
    (item,) = read_inputs([path], shape, adapt=adapt)
    assert item.name == str(path) and item.pixels.dtype == np.float32
    return item.pixels


def test_rgb_for_an_rgb_model_is_taken_as_it_is_channels_first(tmp_path):
    pixels = _rgb(32, 32)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_array_equal(_one(tmp_path / "a.png", RGB, adapt=False), pixels.transpose(2, 0, 1))


def test_rgba_drops_its_alpha_and_la_its_alpha(tmp_path):
    pixels = _rgb(32, 32)
    alpha = np.random.default_rng(1).integers(0, 256, (32, 32, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([pixels, alpha], 2), "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(_one(tmp_path / "rgba.png", RGB), pixels.transpose(2, 0, 1))
    grey = pixels[2:30, 2:30, 0]
    Image.fromarray(np.stack([grey, alpha[2:30, 2:30, 0]], 2), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(_one(tmp_path / "la.png", GREY)[0], grey)
    with pytest.raises(DataError, match="has 4 channels, the model takes 3 .*--adapt"):
        _one(tmp_path / "rgba.png", RGB, adapt=False)


def test_a_palette_image_is_its_palette_colours(tmp_path):
    palette = np.random.default_rng(2).integers(0, 256, (256, 3), dtype=np.uint8)
    index = np.random.default_rng(3).integers(0, 256, (32, 32), dtype=np.uint8)
    image = Image.fromarray(index, "P")
    image.putpalette(palette.reshape(-1).tolist())
    image.save(tmp_path / "p.png")
    colours = palette[index]
    np.testing.assert_array_equal(_one(tmp_path / "p.png", RGB, adapt=False), colours.transpose(2, 0, 1))
    # to grey for a one-channel model: the luma of those colours (28x28: no resize)
    small = Image.fromarray(index[:28, :28], "P")
    small.putpalette(palette.reshape(-1).tolist())
    small.save(tmp_path / "p28.png")
    np.testing.assert_array_equal(_one(tmp_path / "p28.png", GREY)[0], _luma(palette[index[:28, :28]]))


def test_sixteen_bit_grey_is_scaled_to_eight_bits_only_when_asked(tmp_path):
    wide = np.random.default_rng(4).integers(0, 65536, (28, 28)).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    np.testing.assert_allclose(_one(tmp_path / "deep.png", GREY)[0], wide / 257.0, atol=0.5)
    with pytest.raises(DataError, match="deep.png: has 16-bit pixels.*--adapt"):
        _one(tmp_path / "deep.png", GREY, adapt=False)


def test_resizing_keeps_a_flat_image_flat_and_halves_a_doubled_one(tmp_path):
    Image.fromarray(np.full((50, 70, 3), (10, 200, 90), np.uint8)).save(tmp_path / "flat.png")
    flat = _one(tmp_path / "flat.png", RGB)
    assert flat.shape == RGB and [set(np.unique(c)) for c in flat] == [{10}, {200}, {90}]
    # black left half, white right half at 64x64: halved, it keeps both (blurred only at
    # the edge), so the image was scaled, not cropped or padded
    halves = np.zeros((64, 64, 3), np.uint8)
    halves[:, 32:] = 255
    Image.fromarray(halves).save(tmp_path / "big.png")
    small = _one(tmp_path / "big.png", RGB)
    assert (small[:, :, :14] == 0).all() and (small[:, :, 18:] == 255).all()
    assert ((small[:, :, 14:18] > 0) & (small[:, :, 14:18] < 255)).any()
    with pytest.raises(DataError, match="big.png: is 64x64 pixels, the model takes 32x32"):
        _one(tmp_path / "big.png", RGB, adapt=False)


def test_npy_images_with_channels_last(tmp_path):
    stack = np.stack([_rgb(32, 32, seed=s) for s in (6, 7)])  # [N, H, W, C]
    np.save(tmp_path / "stack.npy", stack)
    items = read_inputs([tmp_path / "stack.npy"], RGB)
    assert [i.name for i in items] == [f"{tmp_path / 'stack.npy'}[{n}]" for n in (0, 1)]
    for item, image in zip(items, stack):
        np.testing.assert_array_equal(item.pixels, image.transpose(2, 0, 1))
    # to a one-channel model: their luma, each image on its own
    np.save(tmp_path / "grey.npy", stack[:, :28, :28])
    for item, image in zip(read_inputs([tmp_path / "grey.npy"], GREY, adapt=True), stack):
        np.testing.assert_array_equal(item.pixels[0], _luma(image[:28, :28]))
    with pytest.raises(DataError, match=r"stack.npy\[0\]: has 3 channels, the model takes 1"):
        read_inputs([tmp_path / "stack.npy"], (1, 32, 32))
