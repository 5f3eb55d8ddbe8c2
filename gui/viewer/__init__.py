"""The canvas: the photo as an image pyramid and the detection overlays."""
