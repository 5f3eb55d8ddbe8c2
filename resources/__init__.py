"""Files shipped with Sightline (installed as the package `sightline_resources`; read them
through `engine.resources`)."""
