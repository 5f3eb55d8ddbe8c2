"""The window's segmenter tools (issue 15): Tools ▸ Train segmenter… and its dialog. Running a
segmenter needs nothing here: it is a model like the detectors (engine.segment.as_detector)."""
