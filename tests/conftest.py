"""The root of the test tree.

Its presence puts ``tests/`` on ``sys.path`` (pytest's default ``prepend`` import
mode inserts the directory of a conftest outside any package), so every folder,
``tests/grpc`` (which is not a package) included, imports the shared helpers as
``support.*`` however pytest is started: one file, one folder or the whole suite.
"""
