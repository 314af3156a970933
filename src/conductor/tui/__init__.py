"""The control room: a Textual app over the running organization.

Imported only by the commands that open it (`conductor`, `conductor tui`, `conductor attach`, `conductor
demo`), never by headless ones. `make_app` in `conductor.tui.app` is the one factory the CLI, the tests, the
screenshots script and the latency benchmark all use.
"""
