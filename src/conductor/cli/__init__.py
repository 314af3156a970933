"""The `conductor` command line: thin typer commands over the same services the control room uses."""
