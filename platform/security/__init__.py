"""Security helpers shared by every area (field encryption, masking)."""
