"""Model files: GGUF reading, model facts and fit, the library, catalog,
quantization types and planning, load parameters, what a loaded model is,
the starter model."""
