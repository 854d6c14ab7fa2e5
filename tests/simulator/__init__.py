"""Tests of the local Tavus simulator, over real HTTP on loopback."""
