"""The anchors of issue 13 (PTB, aiogram-dialog, echo + one commit) in their own virtualenv: see ``__main__``."""
