"""Class balancing: the plan of how many new images each image gets, and copy-paste of rare objects."""

from __future__ import annotations
