"""zoo-lenet: an example third-party zoo plugin (LeNet-5 and a step-decay schedule).

Importing this package is cheap: paddle is imported only when an entry is built.
"""

__version__ = "0.1.0"
