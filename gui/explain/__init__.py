"""The Explain dock: what the network looked at for the shown image and the selected
detection or classifier label (heatmaps, feature maps, filters), computed in the background."""
