"""Test support: throwaway databases and vhosts on the real servers, under unique names, always cleaned up."""
