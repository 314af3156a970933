"""The control room's widgets: the five panes and the small parts they are made of, one per module."""
