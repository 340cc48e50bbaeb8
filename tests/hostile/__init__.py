"""The standing hostile-input corpus (see README.md): files and paths every command meets."""
