"""`zoo predict` on real files written from the test images of tests/data, for a model
trained here; bad inputs; third-party backends; an export served without zoo at all."""

from __future__ import annotations

import gzip
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train, seed_small, export):
    """A CNN trained here, its two exports, and test images it classifies right (PNG)."""
    from zoo.data import load_mnist, normalize_images
    from zoo.plugin import load_catalog
    from zoo.train.restore import load_model

    root = tmp_path_factory.mktemp("predict")
    run = train(root / "cnn", "cnn", epochs=8)
    net, _, _, _ = load_model(load_catalog(), run)
    net.eval()
    import paddle

    data = load_mnist(seed_small, download=False)
    test = data.test
    with paddle.no_grad():
        guesses = net(paddle.to_tensor(normalize_images(test.images, data.mean, data.std))).numpy().argmax(1)
    right = np.flatnonzero(guesses == test.labels)
    assert len(set(test.labels[right])) >= 5, "the model learned too little to test with"
    pngs = root / "pngs"
    pngs.mkdir()
    labels = {}
    for i in right:
        name = f"test-{i:02d}.png"
        Image.fromarray(test.images[i]).save(pngs / name)
        labels[str(pngs / name)] = int(test.labels[i])
    return {"run": run, "paddle": export(run, "paddle"), "onnx": export(run, "onnx"),
            "pngs": pngs, "labels": labels, "images": test.images[right], "root": root}


def _top1(proc) -> dict[str, int]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {p["input"]: p["top"][0]["class"] for p in json.loads(proc.stdout)["predictions"]}


@pytest.mark.parametrize("fmt, backend", [("paddle", None), ("paddle", "dygraph"), ("onnx", None)])
def test_pngs_of_known_test_images_give_their_labels(trained, fmt, backend, run_zoo):
    args = ["--backend", backend] if backend else []
    proc = run_zoo("predict", str(trained[fmt]), str(trained["pngs"]), "--json", *args)
    assert _top1(proc) == trained["labels"]
    served = json.loads(proc.stdout)["backend"]
    assert served == backend or served == {"paddle": "paddle-inference", "onnx": "onnxruntime"}[fmt]


def test_text_output_lists_top_classes_with_probabilities(trained, run_zoo):
    first = sorted(trained["labels"])[0]
    proc = run_zoo("predict", str(trained["onnx"]), first, "--top", "3")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    name, _, rest = line.rpartition(": ")
    pairs = re.findall(r"(\S+) (\d\.\d{4})", rest)
    assert name == first and len(pairs) == 3 and pairs[0][0] == str(trained["labels"][first])
    probs = [float(p) for _, p in pairs]
    assert probs == sorted(probs, reverse=True) and 0.1 < probs[0] <= 1.0


def test_npy_and_idx_inputs_give_the_same_labels(trained, run_zoo):
    images, root = trained["images"], trained["root"]
    expected = [trained["labels"][k] for k in sorted(trained["labels"])]
    np.save(root / "stack.npy", images)
    idx = root / "t10k-images-idx3-ubyte.gz"
    idx.write_bytes(gzip.compress(struct.pack(">IIII", 2051, len(images), 28, 28) + images.tobytes()))
    for path in (root / "stack.npy", idx):
        found = _top1(run_zoo("predict", str(trained["paddle"]), str(path), "--json"))
        assert list(found) == [f"{path}[{i}]" for i in range(len(images))]
        assert list(found.values()) == expected


def test_bad_inputs_are_one_line_errors_naming_the_file(trained, tmp_path, run_zoo, assert_one_line_error):
    digit = trained["images"][0]
    files = {"big.png": lambda p: Image.fromarray(digit).resize((32, 32)).save(p),
             "rgb.png": lambda p: Image.fromarray(digit).convert("RGB").save(p),
             "notes.txt": lambda p: p.write_text("not an image"),
             "broken.png": lambda p: _truncated_png(p, digit),
             "wide.npy": lambda p: np.save(p, np.zeros((2, 28, 30), np.uint8)),
             "hot.npy": lambda p: np.save(p, np.full((28, 28), 300.0))}
    for name, write in files.items():
        write(tmp_path / name)
    expect = {"big.png": "is 32x32 pixels, the model takes 28x28", "rgb.png": "has 3 channels",
              "notes.txt": "not an image", "broken.png": "cannot read the image",
              "wide.npy[0]": "is 30x28 pixels", "hot.npy": "pixels in 0..255"}
    for name, needle in expect.items():
        proc = run_zoo("predict", str(trained["paddle"]), str(tmp_path / name.split("[")[0]))
        assert_one_line_error(proc, str(tmp_path / name), needle)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_zoo("predict", str(trained["paddle"]), str(empty)),
                          str(empty), "holds no")
    # --adapt resizes and converts, and the digit still reads as itself.
    found = _top1(run_zoo("predict", str(trained["paddle"]), str(tmp_path / "big.png"),
                          str(tmp_path / "rgb.png"), "--adapt", "--json"))
    label = trained["labels"][sorted(trained["labels"])[0]]
    assert found[str(tmp_path / "rgb.png")] == label


def npy_header_only(path, shape):
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False,
                                                      "shape": shape})
        handle.write(b"\0" * 64)


@pytest.mark.parametrize("adapt", [[], ["--adapt"]])
def test_huge_inputs_are_refused_from_their_headers(trained, tmp_path, adapt, run_zoo, assert_one_line_error,
                                                    png_header_only):
    # A 30000x30000 PNG ended in DecompressionBombError, a .npy header claiming 2^45
    # values in ArrayMemoryError: tracebacks, after trying to allocate the memory.
    png_header_only(tmp_path / "bomb.png", 30000, 30000)
    npy_header_only(tmp_path / "bomb.npy", (2 ** 15, 2 ** 15, 2 ** 15))
    npy_header_only(tmp_path / "short.npy", (100, 28, 28))
    for name, needle in (("bomb.png", "30000x30000"), ("bomb.npy", "more than zoo reads"),
                         ("short.npy", "truncated")):
        proc = run_zoo("predict", str(trained["paddle"]), str(tmp_path / name), *adapt)
        assert_one_line_error(proc, str(tmp_path / name), needle)
        assert "Warning" not in proc.stderr, proc.stderr


def test_names_cannot_forge_output_lines(trained, tmp_path, run_zoo, assert_one_line_error):
    # Class names come from the export's manifest (the dataset's folders), file names from
    # the user's disk: a newline or an escape sequence in either forged extra lines.
    forged = tmp_path / "forged"
    import shutil

    shutil.copytree(trained["paddle"], forged)
    manifest = json.loads((forged / "zoo-export.json").read_text())
    manifest["class_names"] = [f"c{i}\nfake.png: 7 1.0000\x1b[2J\u2028" for i in range(10)]
    (forged / "zoo-export.json").write_text(json.dumps(manifest))
    source = sorted(trained["labels"])[0]
    odd = tmp_path / "two\nlines\x1b[31m.png"
    shutil.copy(source, odd)
    proc = run_zoo("predict", str(forged), str(odd))
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert "\x1b" not in proc.stdout and "\u2028" not in proc.stdout
    assert line.startswith(str(tmp_path / "two\\nlines\\x1b[31m.png: c"))
    assert f"c{trained['labels'][source]}\\nfake.png: 7 1.0000\\x1b[2J\\u2028 " in line
    # an error naming such a file stays one line too
    bad = tmp_path / "bad\nname.png"
    bad.write_text("no image")
    assert_one_line_error(run_zoo("predict", str(forged), str(bad)), "bad\\nname.png")


def test_predict_on_a_run_says_to_export_it_first(trained, tmp_path, assert_one_line_error, run_zoo):
    import shutil

    png = sorted(trained["labels"])[0]
    fresh = tmp_path / "fresh-run"  # a run folder that has not been exported yet
    fresh.mkdir()
    shutil.copy(trained["run"] / "job.json", fresh / "job.json")
    line = assert_one_line_error(run_zoo("predict", str(fresh), png), "training run, not an export")
    assert f"run `zoo export {fresh}` first" in line and str(fresh / "export-paddle") in line
    # A run that has exports points at them.
    line = assert_one_line_error(run_zoo("predict", str(trained["run"]), png), "training run")
    assert str(trained["run"] / "export-paddle") in line and str(trained["run"] / "export-onnx") in line


def test_adapt_reads_a_digit_in_every_form_as_that_digit(trained, tmp_path, run_zoo):
    """Alpha, palette, 16 bits, twice the size, colour arrays [N, H, W, C]: with --adapt
    each still reads as the digit it shows (tests/deploy/test_deploy_inputs.py checks pixels)."""
    names = sorted(trained["labels"])[:2]
    digit, other = trained["images"][:2]
    label = trained["labels"][names[0]]
    full = np.full_like(digit, 255)
    palette = Image.fromarray(digit, "P")
    palette.putpalette([v for i in range(256) for v in (i, i, i)])
    forms = {"rgba.png": Image.fromarray(np.stack([digit, digit, digit, full], 2), "RGBA"),
             "la.png": Image.fromarray(np.stack([digit, full], 2), "LA"),
             "palette.png": palette,
             "deep.png": Image.fromarray(digit.astype(np.uint16) * 257),
             "double.png": Image.fromarray(np.kron(digit, np.ones((2, 2), np.uint8)))}
    for name, image in forms.items():
        image.save(tmp_path / name)
    np.save(tmp_path / "colour.npy", np.stack([np.stack([d] * 3, 2) for d in (digit, other)]))
    found = _top1(run_zoo("predict", str(trained["paddle"]), *(str(tmp_path / n) for n in forms),
                          str(tmp_path / "colour.npy"), "--adapt", "--json"))
    assert found == {**{str(tmp_path / n): label for n in forms},
                     f"{tmp_path / 'colour.npy'}[0]": label,
                     f"{tmp_path / 'colour.npy'}[1]": trained["labels"][names[1]]}


@pytest.fixture(scope="module")
def colour(tmp_path_factory, write_imagefolder, run_zoo, export):
    """A three-channel model (an mlp on a small RGB image folder, 12x10) and its export."""

    root = tmp_path_factory.mktemp("colour")
    written = write_imagefolder(root / "pets", per_class={"train": 6, "test": 2})
    run = root / "run"
    proc = run_zoo("train", "--model", "mlp", "--dataset", "imagefolder", "--data-dir", str(root / "pets"),
                   "--epochs", "1", "--batch-size", "8", "--out", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"export": export(run, "paddle"), "picture": written["test"]["cat"][0]}


def test_a_colour_export_reads_adapted_forms_of_a_picture_as_the_picture(colour, tmp_path, run_zoo):
    """Each form holds the same pixels once adapted, so it gets exactly the same answer."""
    picture = colour["picture"]  # 12x10 RGB
    assert json.loads((colour["export"] / "zoo-export.json").read_text())["input"]["shape"] == [3, 12, 10]
    alpha = np.random.default_rng(0).integers(0, 256, picture.shape[:2], dtype=np.uint8)
    colours, index = np.unique(picture.reshape(-1, 3), axis=0, return_inverse=True)
    palette = Image.fromarray(index.reshape(picture.shape[:2]).astype(np.uint8), "P")
    palette.putpalette(colours.reshape(-1).tolist())
    grey = picture[..., 1]
    flat = np.full((12, 10, 3), (200, 30, 120), np.uint8)
    forms = {"plain.png": Image.fromarray(picture),
             "alpha.png": Image.fromarray(np.dstack([picture, alpha]), "RGBA"),
             "palette.png": palette,
             "grey.png": Image.fromarray(grey), "grey-rgb.png": Image.fromarray(np.dstack([grey] * 3)),
             "flat.png": Image.fromarray(flat),
             "flat-big.png": Image.fromarray(np.kron(flat, np.ones((3, 3, 1), np.uint8)))}
    for name, image in forms.items():
        image.save(tmp_path / name)
    np.save(tmp_path / "stack.npy", np.stack([picture, flat]))
    proc = run_zoo("predict", str(colour["export"]), *(str(tmp_path / n) for n in forms),
                   str(tmp_path / "stack.npy"), "--adapt", "--json", "--top", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    top = {Path(p["input"]).name: p["top"] for p in json.loads(proc.stdout)["predictions"]}
    same = [("alpha.png", "plain.png"), ("palette.png", "plain.png"), ("stack.npy[0]", "plain.png"),
            ("grey.png", "grey-rgb.png"), ("flat-big.png", "flat.png"), ("stack.npy[1]", "flat.png")]
    assert [(a, b) for a, b in same if top[a] != top[b]] == []
    assert top["plain.png"] != top["flat.png"]  # the answers do depend on the pixels


def _truncated_png(path, digit):
    Image.fromarray(digit).save(path)
    path.write_bytes(path.read_bytes()[:60])  # a copy cut off mid-way


def test_backend_choices_are_checked(trained, assert_one_line_error, run_zoo, missing_gpu):
    png = sorted(trained["labels"])[0]
    assert_one_line_error(run_zoo("predict", str(trained["paddle"]), png, "--backend", "onnxruntime"),
                          "serves onnx exports", "--backend dygraph or paddle-inference")
    assert_one_line_error(run_zoo("predict", str(trained["onnx"]), png, "--backend", "nope"),
                          "unknown backend 'nope'")
    assert_one_line_error(run_zoo("predict", str(trained["paddle"]), png, "--device", missing_gpu()),
                          "not available")
    assert_one_line_error(run_zoo("predict", str(trained["paddle"]), png, "--set", "backend.x=1"),
                          "has no parameter 'x'")
    plain = _top1(run_zoo("predict", str(trained["paddle"]), png, "--json",
                          "--set", "backend.onednn=false"))
    assert plain == {png: trained["labels"][png]}


THIRD_PARTY = '''
import numpy as np
import zoo


class Tracing(zoo.Backend):
    """paddle.jit.load, counting the images it served into a file."""

    name = "tracing"
    format = "paddle"

    def __init__(self, log):
        self.log = log

    def load(self, export_dir, manifest, device):
        import paddle

        self.layer = paddle.jit.load(str(export_dir / "model"))

    def predict(self, batch):
        import paddle

        with open(self.log, "a") as handle:
            handle.write(f"{len(batch)}\\n")
        return self.layer(paddle.to_tensor(batch)).numpy()


def build_tracing(*, log: str = "served.txt"):
    return Tracing(log)


@zoo.hookimpl
def zoo_register_backends(register):
    register("tracing", build_tracing, description="counts what it serves")
'''


def test_a_third_party_backend_serves_like_the_built_ins(trained, plugin_kit, tmp_path, run_zoo):
    plugin_kit.add("zoo_tracing_backend", THIRD_PARTY)
    listed = json.loads(run_zoo("list", "backends", "--json", env=plugin_kit.env()).stdout)
    assert {e["name"] for e in listed} >= {"dygraph", "paddle-inference", "onnxruntime", "tracing"}
    log = tmp_path / "served.txt"
    proc = run_zoo("predict", str(trained["paddle"]), str(trained["pngs"]), "--json", "--backend",
                   "tracing", "--set", f"backend.log={log}", env=plugin_kit.env())
    assert _top1(proc) == trained["labels"]
    assert log.read_text().split() == [str(len(trained["labels"]))]


@pytest.fixture(scope="session")
def readme_snippet(repo_root):
    def _readme_snippet(title: str) -> str:
        text = (repo_root / "README.md").read_text()
        deploy = text[text.index("## Deploy"):]
        blocks = re.findall(r"```python\n(.*?)```", deploy, re.DOTALL)
        return next(b for b in blocks if b.startswith(f"# {title}"))

    return _readme_snippet


@pytest.mark.parametrize("fmt, title", [("paddle", "Paddle Inference"), ("onnx", "ONNX Runtime")])
def test_an_export_serves_in_a_fresh_process_without_zoo(trained, tmp_path, fmt, title, site_without,
                                                         isolated, readme_snippet):
    # The README's own snippet, pointed at this export and a PNG.
    png = sorted(trained["labels"])[0]
    code = readme_snippet(title)
    code = re.sub(r'export = Path\("[^"]+"\)', f"export = Path({str(trained[fmt])!r})", code)
    code = code.replace('"digit.png"', repr(png))
    script = tmp_path / "serve.py"
    script.write_text(code)
    # A copy of the venv's site-packages without zoo and its editable-install hook; in
    # `python -I -S` nothing else (PYTHONPATH, the cwd, the user site) can provide it.
    site = site_without(tmp_path / "site", "zoo*", "__editable__*zoo*")
    guard = ("import importlib.util, runpy, sys\n"
             "assert importlib.util.find_spec('zoo') is None, 'zoo is importable'\n"
             "runpy.run_path(sys.argv[1], run_name='__main__')\n"
             "assert not [m for m in sys.modules if m == 'zoo' or m.startswith('zoo.')]\n")
    proc = isolated(site, guard, str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == str(trained["labels"][png])
