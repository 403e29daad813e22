"""The one pipeline every command runs through: source -> prepare -> plan -> run -> write -> publish."""

from __future__ import annotations
