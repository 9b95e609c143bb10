"""healthycity: the open platform for a city health and care partnership."""

__version__ = "0.1.0"
