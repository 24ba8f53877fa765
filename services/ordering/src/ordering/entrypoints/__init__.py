"""How ordering meets the world: its HTTP API, its consumers, its timers and its process entry point."""
