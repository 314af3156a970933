"""Services: the operations the CLI and the control room share, over the store and the org file."""
