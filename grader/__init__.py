"""Autograder for the "Intro to CNNs in PyTorch" practical (MNIST CNN, ESPCN super-resolution, einops shuffle)."""
__version__ = "0.1.0"
