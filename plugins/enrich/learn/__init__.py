"""Learning: the model pipeline, query strategies, training data and evaluation, and the
active-learning simulation. Pure (scikit-learn and modAL); builds on ``enrich.core``."""
