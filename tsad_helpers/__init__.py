"""tsad_helpers: the library behind the tsad notebooks (see README.md and ../DESIGN)."""

__version__ = "0.1.0"
