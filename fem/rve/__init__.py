"""Periodic RVE of a slab periodic in x and y (z through the thickness): effective linear-elastic
6x6 stiffness with periodic, kinematic (KUBC) and static (SUBC) boundary conditions (solve.py,
periodic.py), the exact laminate (Backus) average (backus.py), the study object (config.py) and
the `python -m fem run` entry (run.py). Cells: meshes/rve.py. Theory: docs/physics.md "Periodic RVE"."""
