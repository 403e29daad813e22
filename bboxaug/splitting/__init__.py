"""Splitting a dataset into train/val/test: which images must stay together (`groups`), and which split each
group goes to so that every split gets its share of the images and of every class's boxes (`stratify`)."""
