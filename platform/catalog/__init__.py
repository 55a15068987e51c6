"""The catalogue of one store: a category tree, products with images and rich text, and SKUs
built from specs (e.g. colour × size), each with its own price (fen) and stock."""
