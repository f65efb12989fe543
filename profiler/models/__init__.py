"""The built-in schemas every user can read and nobody can change: the sample bookstore and the conversations
dataset. Imports nothing of the project.
"""
