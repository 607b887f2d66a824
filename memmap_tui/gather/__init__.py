"""Gatherers that read a running system (collect, live). Not views: they produce inputs."""
