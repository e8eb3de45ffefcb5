"""
Coverage-guided fuzzing (atheris): the targets in L{tests.fuzz.targets},
driven for a bounded time by L{tests.fuzz.run}.  See README.md here.
"""
