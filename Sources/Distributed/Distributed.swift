// Distributed: see docs/ARCHITECTURE.md
