"""The control room's screens: the main screen and the modal ones (detail views, forms, confirmations)."""
