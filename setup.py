"""The package list, found rather than written out; pyproject.toml holds everything else.

Every folder under zoo/ is a package, and plugins/ (the built-ins, at the top of the
repository by design) installs as zoo.plugins, its folders as zoo.plugins.*: a new
subpackage cannot drop out of the wheel.  pyproject.toml alone cannot say this: its
``packages.find`` names a package after its folder, and plugins/ is not inside zoo/.
"""

from setuptools import find_namespace_packages, setup

NOT_PACKAGES = ["__pycache__", "*.__pycache__"]


def packages_under(folder: str, package: str) -> list[str]:
    # Namespace discovery: a folder of data files (zoo/data/mnist_sample) is a package too,
    # or setuptools would warn that its files travel as data of no listed package.
    found = find_namespace_packages(where=folder, exclude=NOT_PACKAGES)
    return [package, *(f"{package}.{name}" for name in found)]


setup(packages=packages_under("zoo", "zoo") + packages_under("plugins", "zoo.plugins"),
      package_dir={"zoo.plugins": "plugins"})
