"""zoo's built-in plugins, installed as the package ``zoo.plugins``.

Each module named under ``[plugins] builtin`` in registry.toml is an ordinary plugin,
loaded exactly like a third-party entry point; the others (``paddle_backends``,
``ort_backend``, ``nets``, ``lr``, ``vision_nets``) hold those plugins' own implementations,
beside them (``launchers`` holds its launchers itself).  All of it uses only zoo's public surface
(``zoo.__all__``), as a third-party plugin must: tests/test_surface.py checks.
Modules here import paddle only inside factories so that listing the catalogue stays fast.
"""
