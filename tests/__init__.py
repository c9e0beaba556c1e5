"""The test suite (a package, so that its helper modules have unique names)."""
