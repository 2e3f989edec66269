"""The deterministic kernel: events, actions, tasks, the context and the replay executor.

Pure: standard library only, no clock, no threads, no I/O.
"""
