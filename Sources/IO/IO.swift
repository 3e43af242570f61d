// IO: see docs/ARCHITECTURE.md
