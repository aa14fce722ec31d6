"""Finite-element study package for lithium-metal anodes under stack pressure (units: mm, N, MPa, s)."""
__version__ = "0.1.0"
