"""Deterministic pre-processing applied to every image of every split, and again at inference: the steps as data
(`steps`), where boxes land (`placement`), and the pixels (`pixels`)."""
