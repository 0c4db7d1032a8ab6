"""Fill-in-the-middle: the context gathered around the cursor, its budget, post-processing, timing and cache."""
