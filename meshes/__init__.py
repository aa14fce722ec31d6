"""Gmsh geometry builders for anode discs (lengths in mm)."""
