"""Video files: probing metadata and decoding frames."""
