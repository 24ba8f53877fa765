"""Folio's test kit, which service images do not ship: servers, throwaway resources, faults, waits."""
