"""The interactive shell and script runner behind the ``vql`` command."""
