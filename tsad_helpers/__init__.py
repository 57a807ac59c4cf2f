"""tsad_helpers: the library behind the tsad notebooks (see README.md)."""

__version__ = "0.1.0"
