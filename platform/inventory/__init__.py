"""Stock: reserved by one conditional UPDATE when an order is placed, released once."""
