"""Batches [B, C, H, W]: per-dataset normalization (MNIST bit for bit as before) and the
flip_crop augmentation, a pure function of (seed, epoch, sample index)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data import BatchSampler, ImageDataset, Split, Transform, full_batches, load_mnist, transform_of
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.data.transform import CROP_PADDING, augment_table, flip_crop, normalize_images
from zoo.errors import DataError


@pytest.fixture(scope="session")
def colour_split(labels_for, images_for):
    def colour_split(n: int = 50, seed: int = 0) -> Split:
        labels = labels_for(n, seed).astype(np.uint8)
        return Split(images_for(labels, (8, 6, 3), seed), labels)

    return colour_split


def test_mnist_batches_are_bitwise_the_course_scaling():
    data = load_mnist(MNIST_SAMPLE_DIR, progress=False)
    sampler = BatchSampler(data.train, 64, seed=3, transform=transform_of(data))
    x, _ = next(sampler.epoch(1))
    idx = sampler.order(1)[:64]
    old = data.train.images[idx].astype(np.float32)  # the code batches used before
    old /= 127.5
    old -= 1.0
    old = old.reshape(64, 1, 28, 28)
    assert x.dtype == np.float32 and x.shape == (64, 1, 28, 28)
    assert x.tobytes() == old.tobytes()
    assert transform_of(data) == Transform((127.5,), (127.5,))  # MNIST declares the course's scaling


def test_colour_images_become_nchw_normalized_per_channel(colour_split):
    split = colour_split()
    mean, std = (10.0, 100.0, 200.0), (2.0, 50.0, 4.0)
    x = normalize_images(split.images[:5], mean, std)
    assert x.shape == (5, 3, 8, 6) and x.flags["C_CONTIGUOUS"]
    for c in range(3):
        want = (split.images[:5, :, :, c].astype(np.float64) - mean[c]) / std[c]
        np.testing.assert_allclose(x[:, c], want, rtol=1e-5, atol=1e-5)


def _slow_flip_crop(image: np.ndarray, flip: int, dy: int, dx: int) -> np.ndarray:
    p = CROP_PADDING
    padded = np.zeros((image.shape[0] + 2 * p, image.shape[1] + 2 * p, *image.shape[2:]), image.dtype)
    padded[p:-p, p:-p] = image
    crop = padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return crop[:, ::-1] if flip else crop


@pytest.mark.parametrize("shape", [(8, 6, 3), (9, 7)], ids=["colour", "grey"])
def test_flip_crop_is_a_padded_crop_then_a_mirror(shape):
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, size=(40, *shape), dtype=np.uint8)
    params = augment_table(seed=5, epoch=2, n=40)
    out = flip_crop(images, params)
    assert out.shape == images.shape and out.dtype == np.uint8
    for image, row, got in zip(images, params, out):
        assert np.array_equal(got, _slow_flip_crop(image, *row))
    assert set(params[:, 0]) == {0, 1} and params[:, 1:].min() >= 0
    assert params[:, 1:].max() <= 2 * CROP_PADDING
    assert (out == 0).any() and not (images == 0).any()  # some padding showed


def _augmented_by_index(sampler: BatchSampler, epoch: int) -> dict[int, np.ndarray]:
    batches = list(sampler.epoch(epoch))
    order = sampler.order(epoch)
    if sampler.world_size > 1:  # this rank's slice of each global batch
        size, world = sampler.batch_size, sampler.world_size
        order = np.concatenate([order[s * size * world + sampler.rank * size:][:size]
                                for s in range(len(batches))])
    flat = np.concatenate([x for x, _ in batches])
    return {int(i): x for i, x in zip(order, flat)}


def test_augmentation_depends_on_seed_epoch_and_index_only(colour_split):
    split = colour_split(60)
    flip = Transform((127.0,), (64.0,), "flip_crop")
    by_7 = _augmented_by_index(BatchSampler(split, 7, seed=4, transform=flip), 1)
    by_16 = _augmented_by_index(BatchSampler(split, 16, seed=4, transform=flip), 1)
    assert by_7.keys() == by_16.keys() == set(range(60))
    assert all(np.array_equal(by_7[i], by_16[i]) for i in range(60))  # batch size is irrelevant
    ranks = {}
    for rank in range(2):
        ranks.update(_augmented_by_index(BatchSampler(split, 5, seed=4, rank=rank, world_size=2,
                                                      transform=flip), 1))
    assert all(np.array_equal(ranks[i], by_7[i]) for i in ranks)  # so is the rank
    other_epoch = _augmented_by_index(BatchSampler(split, 7, seed=4, transform=flip), 2)
    other_seed = _augmented_by_index(BatchSampler(split, 7, seed=5, transform=flip), 1)
    assert sum(not np.array_equal(other_epoch[i], by_7[i]) for i in range(60)) > 30
    assert sum(not np.array_equal(other_seed[i], by_7[i]) for i in range(60)) > 30
    plain = _augmented_by_index(BatchSampler(split, 7, seed=4, transform=flip.without_augment()), 1)
    assert sum(not np.array_equal(plain[i], by_7[i]) for i in range(60)) > 30


def test_resuming_mid_epoch_gives_the_same_augmented_batches(colour_split):
    split = colour_split(60)
    flip = Transform((127.0,), (64.0,), "flip_crop")
    full = list(BatchSampler(split, 8, seed=2, transform=flip).epoch(3))
    tail = list(BatchSampler(split, 8, seed=2, transform=flip).epoch(3, start_step=4))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(full[4:], tail)) and len(tail) == len(full) - 4


def test_evaluation_batches_are_never_augmented(colour_split):
    split = colour_split(30)
    flip = Transform((127.0,), (64.0,), "flip_crop")
    evaluated = np.concatenate([x for x, _ in full_batches(split, 8, flip)])
    assert np.array_equal(evaluated, normalize_images(split.images, (127.0,), (64.0,)))


@pytest.fixture(scope="session")
def colour_dataset(colour_split):
    def _dataset(**overrides) -> ImageDataset:
        split = colour_split(10)
        fields = dict(train=split, val=split, test=split, source="test", data_dir=None,
                      class_names=tuple("abcdefghij"), mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0))
        return ImageDataset(**{**fields, **overrides})

    return _dataset


def test_transform_of_reads_the_declaration_and_checks_it(colour_split, colour_dataset):
    assert transform_of(colour_dataset(augment="flip_crop")) == Transform((1.0, 2.0, 3.0), (4.0, 5.0, 6.0),
                                                                     "flip_crop")
    for overrides, needle in [({"mean": (1.0, 2.0)}, "one value or one per channel (3)"),
                              ({"std": (0.0,)}, "must be positive"),
                              ({"mean": (float("nan"),)}, "must be finite"),
                              ({"augment": "rotate"}, "unknown augment 'rotate'")]:
        with pytest.raises(DataError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            transform_of(colour_dataset(**overrides))

    class Undeclared:  # a third-party dataset that declares no statistics
        train = val = test = colour_split(10)
        mean = (127.5,)

    # No default: another dataset's statistics applied silently is how exports broke.
    with pytest.raises(DataError, match="declares no std"):
        transform_of(Undeclared())
    del Undeclared.mean
    with pytest.raises(DataError, match="declares no mean and no std"):
        transform_of(Undeclared())
