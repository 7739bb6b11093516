"""Meshes shipped with microsyn (found by name with :func:`microsyn.geometry.load_mesh`)."""
