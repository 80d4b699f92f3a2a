# The zoo_catalog fixture (a strictly loaded catalogue) comes from zoo's plugin-author kit.
pytest_plugins = ["zoo.testing"]
