"""Test helpers that ship with stagekeeper; ``contract`` holds the backend contract suite."""
