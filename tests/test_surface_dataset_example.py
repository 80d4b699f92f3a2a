"""README's dataset plugin, run as written: built on the public surface alone, it loads
the packaged sample exactly as the built-in ``mnist-sample`` does."""

from __future__ import annotations

from pathlib import Path

import pytest

import zoo
from zoo.plugin import load_catalog
from zoo.testing import check_public_surface

ROOT = Path(__file__).resolve().parents[1]  # the checkout (tests/ -> its parent)
MARKER = "# my_zoo_plugin/idx_dataset.py"


@pytest.fixture
def readme_plugin(plugin_kit, tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(f"```python\n{MARKER}", 1)[1].split("```", 1)[0]
    source = tmp_path / "idx_dataset.py"
    source.write_text(MARKER + block)
    check_public_surface(source)
    plugin_kit.add("zoo_test_readme_idx_dataset", source.read_text())
    return load_catalog()


def test_it_loads_what_mnist_sample_loads(readme_plugin):
    mine = readme_plugin.build("datasets", "idx-folder", data_dir=str(zoo.MNIST_SAMPLE_DIR))
    builtin = readme_plugin.build("datasets", "mnist-sample")
    assert zoo.fingerprint(mine) == zoo.fingerprint(builtin)
    assert (mine.input_shape, mine.num_classes, len(mine.train), len(mine.val), len(mine.test)) == \
        ((1, 28, 28), 10, 833, 167, 500)
    # Its own pixel statistics, not MNIST's 127.5/127.5 scaling.
    assert 20 < mine.mean[0] < 60 and 60 < mine.std[0] < 100


def test_a_folder_without_the_files_is_a_one_line_data_error(readme_plugin, tmp_path):
    with pytest.raises(zoo.DataError, match=r"lacks train-images-idx3-ubyte.gz, .*t10k-labels") as caught:
        readme_plugin.build("datasets", "idx-folder", data_dir=str(tmp_path))
    assert "\n" not in str(caught.value)
