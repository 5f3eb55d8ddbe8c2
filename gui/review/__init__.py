"""Review: the image list, model and filter panels, detection table, decisions, export."""
