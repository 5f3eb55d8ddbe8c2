"""The `sightline` launcher: the one entry point, above `gui` (the window) and `engine` (all
computation). It opens the window, runs an engine command, or installs the desktop launcher."""
