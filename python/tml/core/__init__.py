"""Shared configuration machinery, in the shape of the original tml.core."""
