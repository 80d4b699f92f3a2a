"""Plugin machinery: discovery, a fault-isolating loader, and the facade core code uses.

Nothing here runs at import time; ``zoo.plugin.load_catalog`` builds everything.
"""

from __future__ import annotations

from zoo.plugin.discovery import Candidate, discover
from zoo.plugin.facade import Catalog, load_catalog
from zoo.plugin.manager import PluginInfo

__all__ = ["Candidate", "Catalog", "PluginInfo", "discover", "load_catalog"]
