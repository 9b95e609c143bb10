"""The signed-in workspace: sign-in, the shell of its pages, history and accounts."""
