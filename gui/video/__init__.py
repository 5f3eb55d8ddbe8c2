"""Video in the review window: a player dock, live mode, strided analysis, export (issue 4)."""
