"""Drawing: matplotlib figures shared by run reports and the SolaraViz app."""
