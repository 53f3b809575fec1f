"""Exchange-rate source clients (PBOC / CFETS central parity and a backup)."""
