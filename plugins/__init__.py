"""zoo's built-in plugins, installed as the package ``zoo.plugins``.

Each module is an ordinary plugin, listed under ``[plugins] builtin`` in registry.toml
and loaded exactly like a third-party entry point.  Modules here import paddle only
inside factories so that listing the catalogue stays fast.
"""
