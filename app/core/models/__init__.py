"""Model files: GGUF reading, model facts and fit, the library, catalog, quantization types and planning, load parameters, the starter model."""
