"""zoo-nice: an example third-party launcher (see README.md)."""
