"""One Gmsh model for the duration of a `with` block (shared by the mesh builders)."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def gmsh_model(name: str):
    """Initialise Gmsh if needed (quietly), add a model `name`, and remove it (and finalise Gmsh
    if this call initialised it) when the block ends, also on errors. Yields the gmsh module."""
    import gmsh

    initialized_here = not gmsh.isInitialized()
    if initialized_here:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(name)
        yield gmsh
    finally:
        gmsh.model.remove()
        if initialized_here:
            gmsh.finalize()
