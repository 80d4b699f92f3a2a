"""Plugin loading: built-ins and throwaway plugins, each failure kind isolated."""

from __future__ import annotations

import json
import os

import pytest

from zoo.errors import PluginError
from zoo.plugin import load_catalog
from zoo.plugin.manager import PluginWarning

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

GOOD = """
    import zoo

    def build(input_shape, num_classes, *, width: int = 8):
        return ("tiny", width)

    @zoo.hookimpl
    def zoo_register_models(register):
        register("tiny", build, description="A tiny test model", defaults={"width": 8})
"""

BROKEN = {
    "import_error": ("""
        import zoo
        import module_that_does_not_exist_anywhere
    """, "import failed: ModuleNotFoundError"),
    "bad_signature": ("""
        import zoo

        @zoo.hookimpl
        def zoo_register_models(register, colour):
            register("bad1", len, description="never registered")
    """, "invalid hooks"),
    "unknown_hook": ("""
        import zoo

        @zoo.hookimpl
        def zoo_register_models(register):
            register("bad2", len, description="never registered")

        @zoo.hookimpl
        def zoo_register_widgets(register):
            pass
    """, "unknown hook 'zoo_register_widgets'"),
    "raises_in_hook": ("""
        import zoo

        @zoo.hookimpl
        def zoo_register_models(register):
            register("bad3", len, description="registered before the crash")
            raise RuntimeError("boom")
    """, "registration failed: RuntimeError: boom"),
    "duplicate_name": ("""
        import zoo

        @zoo.hookimpl
        def zoo_register_models(register):
            register("bad4", len, description="would be fine alone")
            register("cnn", len, description="clashes with the built-in")
    """, "duplicate model 'cnn': registered by plugin 'zoo.plugins.models'"),
}


def test_builtins_register_every_kind():
    catalog = load_catalog()
    for kind, expected in {
        "datasets": ["mnist"], "models": ["cnn", "mlp"],
        "optimizers": ["adagrad", "adam", "adamw", "momentum", "rmsprop", "sgd"],
        "schedules": ["constant", "cosine", "piecewise", "polynomial", "warmup"],
        "regularizers": ["l1", "l2", "none"], "launchers": ["launch", "single", "spawn"],
    }.items():
        assert set(expected) <= set(catalog.registry.names(kind)), kind
    assert all(p.status == "ok" and p.builtin for p in catalog.plugins)


def test_throwaway_plugin_registers_like_a_builtin(plugin_kit):
    plugin_kit.add("zoo_test_good", GOOD)
    catalog = load_catalog()
    entry = catalog.entry("models", "tiny")
    assert (entry.plugin, entry.description, dict(entry.defaults)) == \
        ("zoo_test_good", "A tiny test model", {"width": 8})
    assert catalog.build("models", "tiny", {"width": 3}, input_shape=(1,), num_classes=2) == ("tiny", 3)
    info = next(p for p in catalog.plugins if p.name == "zoo_test_good")
    assert (info.status, info.hooks) == ("ok", ["zoo_register_models"])


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_plugin_is_isolated(plugin_kit, kind):
    source, message = BROKEN[kind]
    plugin_kit.add("zoo_test_good", GOOD)
    plugin_kit.add(f"zoo_test_{kind}", source)
    with pytest.warns(PluginWarning, match=f"zoo_test_{kind}.*{message}"):
        catalog = load_catalog()
    info = next(p for p in catalog.plugins if p.name == f"zoo_test_{kind}")
    assert info.status == "broken" and message in info.error
    # none of its registrations stay behind, and everyone else still works
    models = catalog.registry.names("models")
    assert not any(name.startswith("bad") for name in models)
    assert {"cnn", "mlp", "tiny"} <= set(models)
    assert catalog.entry("models", "cnn").plugin == "zoo.plugins.models"


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_strict_mode_makes_broken_plugins_fatal(plugin_kit, monkeypatch, kind):
    plugin_kit.add(f"zoo_test_{kind}", BROKEN[kind][0])
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=f"zoo_test_{kind}.*strict mode"):
        load_catalog()


def test_blocked_plugins_are_not_imported(plugin_kit, monkeypatch):
    plugin_kit.add("zoo_test_import_error", BROKEN["import_error"][0])
    plugin_kit.add("zoo_test_good", GOOD)
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "zoo_test_import_error, zoo_test_good")
    catalog = load_catalog()  # no warning: the broken one is never imported
    status = {p.name: p.status for p in catalog.plugins}
    assert status["zoo_test_import_error"] == status["zoo_test_good"] == "blocked"
    assert "tiny" not in catalog.registry.names("models")


def test_registry_disabled_list_blocks_plugins(plugin_kit):
    plugin_kit.add("zoo_test_good", GOOD)
    plugin_kit.write_registry(disabled=["zoo_test_good"])
    catalog = load_catalog()
    assert "tiny" not in catalog.registry.names("models")


def test_cli_keeps_working_with_a_broken_plugin(plugin_kit, run_zoo):
    plugin_kit.add("zoo_test_raises_in_hook", BROKEN["raises_in_hook"][0])
    plugin_kit.add("zoo_test_good", GOOD)
    listed = run_zoo("list", "models", env=plugin_kit.env())
    assert listed.returncode == 0, listed.stderr
    assert "tiny" in listed.stdout and "cnn" in listed.stdout and "bad3" not in listed.stdout
    assert "zoo: warning: plugin 'zoo_test_raises_in_hook'" in listed.stderr
    assert "Traceback" not in listed.stderr
    plugins = run_zoo("plugins", env=plugin_kit.env())
    assert plugins.returncode == 0
    row = next(line for line in plugins.stdout.splitlines() if "zoo_test_raises_in_hook" in line)
    assert "broken: registration failed: RuntimeError: boom" in row
    data = json.loads(run_zoo("plugins", "--json", env=plugin_kit.env()).stdout)
    broken = next(p for p in data if p["name"] == "zoo_test_raises_in_hook")
    assert broken["status"] == "broken" and "boom" in broken["error"]


def test_cli_strict_mode_is_one_line_error(plugin_kit, assert_one_line_error, run_zoo):
    plugin_kit.add("zoo_test_import_error", BROKEN["import_error"][0])
    env = plugin_kit.env() | {"ZOO_STRICT_PLUGINS": "1"}
    assert_one_line_error(run_zoo("list", env=env), "zoo_test_import_error", "strict mode")


def test_plugin_output_never_reaches_json_stdout(plugin_kit, run_zoo, noisy_plugin):
    plugin_kit.add("zoo_test_noisy", noisy_plugin)
    listed = run_zoo("list", "--json", env=plugin_kit.env())
    assert listed.returncode == 0, listed.stderr
    assert "quiet" in [row["name"] for row in json.loads(listed.stdout)]
    for text in ("hello from import", "raw bytes from import", "hello from the hook",
                 "raw bytes from the hook"):
        assert text in listed.stderr  # moved, not lost
    plugins = run_zoo("plugins", "--json", env=plugin_kit.env())
    noisy = next(p for p in json.loads(plugins.stdout) if p["name"] == "zoo_test_noisy")
    assert noisy["status"] == "ok"
    table = run_zoo("list", "models", env=plugin_kit.env())
    assert "noisy:" not in table.stdout and "quiet" in table.stdout


def test_stdout_is_restored_after_loading(plugin_kit, capfd, noisy_plugin):
    plugin_kit.add("zoo_test_noisy", noisy_plugin)
    load_catalog()
    print("after loading")
    out, err = capfd.readouterr()
    assert out == "after loading\n" and "noisy: hello from import" in err


HANGS = {
    "import": ("""
        import zoo

        while True:
            pass
    """, "import timed out after 1 s"),
    "registration": ("""
        import time

        import zoo

        @zoo.hookimpl
        def zoo_register_models(register):
            register("never", len, description="never kept")
            while True:
                time.sleep(0.05)
    """, "registration timed out after 1 s"),
}


class Hung(Exception):
    pass


@pytest.fixture
def watchdog():
    """An outer timer that a plugin's time limit must leave as it found it; it also
    stops a hanging load (re-firing, so one swallowed alarm is not enough)."""
    import signal

    def fire(signum, frame):
        raise Hung("the watchdog fired")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, 30, 30)
    yield fire
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def test_hanging_plugins_time_out_and_the_rest_loads(plugin_kit, monkeypatch, watchdog):
    import signal
    import time

    plugin_kit.add("zoo_test_good", GOOD)
    for kind, (source, _) in HANGS.items():
        plugin_kit.add(f"zoo_test_hangs_{kind}", source)
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "1")
    began = time.monotonic()
    with pytest.warns(PluginWarning, match="timed out"):
        catalog = load_catalog()
    assert time.monotonic() - began < 10
    for kind, (_, message) in HANGS.items():
        info = next(p for p in catalog.plugins if p.name == f"zoo_test_hangs_{kind}")
        assert (info.status, info.error) == ("broken", message)
    assert "never" not in catalog.registry.names("models")
    assert {"cnn", "mlp", "tiny"} <= set(catalog.registry.names("models"))
    # the outer timer still runs, with what was left of its time, under its own handler
    assert signal.getsignal(signal.SIGALRM) is watchdog
    delay, interval = signal.getitimer(signal.ITIMER_REAL)
    assert 15 < delay < 29 and interval == 30


@pytest.mark.parametrize("kind", sorted(HANGS))
def test_strict_mode_makes_a_hanging_plugin_fatal(plugin_kit, monkeypatch, watchdog, kind):
    plugin_kit.add(f"zoo_test_hangs_{kind}", HANGS[kind][0])
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    monkeypatch.setenv("ZOO_PLUGIN_TIMEOUT", "1")
    with pytest.raises(PluginError, match=f"zoo_test_hangs_{kind}.*{HANGS[kind][1]}"):
        load_catalog()


def test_cli_finishes_despite_hanging_plugins(plugin_kit, run_zoo):
    plugin_kit.add("zoo_test_good", GOOD)
    for kind, (source, _) in HANGS.items():
        plugin_kit.add(f"zoo_test_hangs_{kind}", source)
    env = plugin_kit.env() | {"ZOO_PLUGIN_TIMEOUT": "1"}
    listed = run_zoo("list", "models", env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "tiny" in listed.stdout and "never" not in listed.stdout
    assert "Traceback" not in listed.stderr
    plugins = run_zoo("plugins", env=env, timeout=60)
    assert plugins.returncode == 0, plugins.stderr
    for kind, (_, message) in HANGS.items():
        row = next(line for line in plugins.stdout.splitlines() if f"zoo_test_hangs_{kind}" in line)
        assert f"broken: {message}" in row
    dry = run_zoo("bench", "--dry-run", "--models", "tiny,mlp", env=env, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "tiny" in dry.stdout and "Traceback" not in dry.stderr


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_malformed_plugin_timeout_is_one_line_error(value, assert_one_line_error, run_zoo):
    env = dict(os.environ, ZOO_PLUGIN_TIMEOUT=value)
    assert_one_line_error(run_zoo("list", env=env), "ZOO_PLUGIN_TIMEOUT", "seconds")


WRAPPERS = '''
import zoo


def build_wrapped(input_shape, num_classes, build_model, *, inner: str = "mlp", call: str = "args"):
    if call == "args":
        return build_model(inner, input_shape, num_classes)
    if call == "keywords":
        return build_model(inner, num_classes=num_classes, input_shape=input_shape)
    return build_model(inner, input_shape)


@zoo.hookimpl
def zoo_register_models(register):
    register("wrapped", build_wrapped, description="builds another model")
'''


def test_a_factory_declaring_build_kind_gets_a_builder_of_that_kind_from_the_table(plugin_kit):
    """Not only schedules: `build_<singular>` of any kind in zoo.kinds, with that kind's
    context in the table's order (or by name)."""
    import paddle

    from zoo.errors import RegistryError
    from zoo.plugin import load_catalog

    plugin_kit.add("zoo_test_wrappers", WRAPPERS)
    catalog = load_catalog()
    context = {"input_shape": (1, 28, 28), "num_classes": 10}
    plain = catalog.build("models", "mlp", {"hidden1": 8}, **context)
    for call in ("args", "keywords"):
        built = catalog.build("models", "wrapped", {"call": call}, **context)
        assert type(built) is type(plain) and isinstance(built, paddle.nn.Layer)
        assert built(paddle.zeros([2, 1, 28, 28])).shape == [2, 10]
    with pytest.raises(RegistryError, match=r"build_model takes \(name, input_shape, num_classes\)"):
        catalog.build("models", "wrapped", {"call": "short"}, **context)
