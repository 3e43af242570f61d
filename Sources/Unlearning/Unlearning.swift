// Unlearning: see docs/ARCHITECTURE.md
