"""Drawing: a run's SVG figures (no matplotlib) and matplotlib panels for the SolaraViz app."""
