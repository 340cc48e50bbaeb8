"""The ``flowjudge`` command. Each verb lives in its own module with a ``register`` function."""
