"""Helpers shared by the test folders (import the modules: ``support.wait``,
``support.ci``, ``support.server``, ``support.http_api``).

- ``wait``: ``wait_until``, the one poll-with-a-timeout of the suite.
- ``ci``: ``unavailable``, skip for want of a tool or service, but fail under CI.
- ``server``: ``free_port`` and ``Server``, a real ``wayline serve`` subprocess.
- ``http_api``: polling and snapshots over a server's HTTP API.
"""
