"""The whole system on one machine: bootstrap, migrate, and run every service's roles as real processes."""
