"""Who may log in: local accounts with sign-up (``local``) or OAuth through oauthenticator (``oauth``).

May import :mod:`hub.settings`; nothing else of the project.
"""
