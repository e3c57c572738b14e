"""One module a sub-command of the CLI."""
