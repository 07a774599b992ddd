"""Offline training and export tools. Only this package may import torch."""
