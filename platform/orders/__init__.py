"""Orders: placed through the pricing pipeline, moved by a state machine, with a timeline."""
