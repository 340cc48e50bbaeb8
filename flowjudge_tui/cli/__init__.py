"""The ``flowjudge`` command: argument parsing and printing only. Each verb lives in its own
module with a ``register`` function; the work is done by ``runs``, ``reports`` and the core."""
