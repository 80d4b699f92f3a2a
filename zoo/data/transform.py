"""uint8 images -> the float32 [B, C, H, W] batches a model sees: augmentation, then normalization.

Both are declared by the dataset (``mean``, ``std``, ``augment``) and are pure functions of
(seed, epoch, sample index), so a resumed run sees exactly the batches an uninterrupted
one saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.errors import DataError

# No default mean or std: a silent default is one dataset's statistics applied to
# another's pixels (MNIST's [-1, 1] scaling once broke every non-MNIST export).
AUGMENTATIONS = ("none", "flip_crop")
CROP_PADDING = 4  # pixels of zero padding around the image before the random crop
# A third seed word, so the augmentation stream never coincides with the order stream
# default_rng([seed, epoch]) of the batch sampler.
_AUGMENT_STREAM = 0x617567


def image_shape(images: np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of a uint8 array [N, H, W] (grey) or [N, H, W, C]."""
    if images.ndim == 3:
        return (1, *images.shape[1:])
    if images.ndim == 4:
        return (images.shape[3], *images.shape[1:3])
    raise DataError(f"images must be [N, H, W] or [N, H, W, C], got shape {list(images.shape)}")


def check_augment(augment: str) -> str:
    if augment not in AUGMENTATIONS:
        raise DataError(f"unknown augment '{augment}' (choose from {', '.join(AUGMENTATIONS)})")
    return augment


def normalize_images(images: np.ndarray, mean, std) -> np.ndarray:
    """uint8 [B, H, W] or [B, H, W, C] -> float32 [B, C, H, W] as (x - mean) / std per channel.

    Computed as x / std - mean / std: for MNIST's (127.5, 127.5) that is exactly the
    course's x / 127.5 - 1.0, operation for operation, so its batches stay bitwise the same.
    Colour images are moved to channels-first while still uint8 (a quarter of the bytes).
    """
    if images.ndim == 3:
        x = images.astype(np.float32)[:, None]
    else:
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2)).astype(np.float32)
    std32 = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    x /= std32
    x -= np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1) / std32
    return x


def augment_table(seed: int, epoch: int, n: int) -> np.ndarray:
    """int64 [n, 3]: (flip, dy, dx) of every sample index in ``epoch``; a pure function."""
    rng = np.random.default_rng([seed, epoch, _AUGMENT_STREAM])
    return rng.integers(0, [2, 2 * CROP_PADDING + 1, 2 * CROP_PADDING + 1], size=(n, 3))


def flip_crop(images: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Random crop of the zero-padded image, then a horizontal mirror where ``flip`` is 1.

    ``params`` holds (flip, dy, dx) per image (rows of ``augment_table``): the crop's
    corner in the padded image.  The output has the input's shape and dtype.  A loop of
    slice copies: per batch it is several times faster than one fancy-index gather.
    """
    height, width = images.shape[1:3]
    out = np.zeros_like(images)
    for image, target, (flip, dy, dx) in zip(images, out, params):
        top, left = int(dy) - CROP_PADDING, int(dx) - CROP_PADDING  # window corner in the image
        y0, y1 = max(0, top), min(height, top + height)
        x0, x1 = max(0, left), min(width, left + width)
        target[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
        if flip:
            target[:] = target[:, ::-1].copy()
    return out


@dataclass(frozen=True)
class Transform:
    """How a split's uint8 images become a model's input; see ``transform_of``."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str = "none"

    def without_augment(self) -> Transform:
        """Evaluation sees the images as they are."""
        return Transform(self.mean, self.std)

    def __call__(self, images: np.ndarray, index: np.ndarray, seed: int, epoch: int,
                 table: np.ndarray | None = None) -> np.ndarray:
        """float32 [B, C, H, W] for the images at split indices ``index`` in ``epoch``."""
        if self.augment == "flip_crop":
            images = flip_crop(images, table[index])
        return normalize_images(images, self.mean, self.std)


def transform_of(dataset) -> Transform:
    """The dataset's declared ``mean``, ``std`` (pixel units, one value or one per channel)
    and ``augment`` (default none); a dataset that declares no ``mean`` or ``std`` is an
    error, never another dataset's statistics."""
    channels = image_shape(dataset.train.images)[0] if len(dataset.train) else None
    missing = [name for name in ("mean", "std") if getattr(dataset, name, None) is None]
    if missing:
        raise DataError(f"the dataset ({type(dataset).__name__}) declares no {' and no '.join(missing)}: "
                        f"a dataset must declare the pixel mean and std its images are normalized "
                        f"with (one value or one per channel, in 0..255 units)")
    mean = tuple(float(v) for v in np.atleast_1d(dataset.mean))
    std = tuple(float(v) for v in np.atleast_1d(dataset.std))
    for name, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, channels) or not all(np.isfinite(values)):
            raise DataError(f"dataset {name} {list(values)} must be finite, one value or one "
                            f"per channel ({channels})")
    if min(std) <= 0:
        raise DataError(f"dataset std {list(std)} must be positive")
    return Transform(mean, std, check_augment(getattr(dataset, "augment", "none")))
