"""The numpy-cpu backend (``backend``) and its parts: single-token steps, decoder stages, matmul
convolutions, the text embedding read from the checkpoint file."""
