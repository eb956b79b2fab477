"""The model manager's "Add from the Hugging Face hub" box: a repository and a file.

It checks what was typed before anything reaches the network, and says in one line
what is wrong with it; the dialog decides what to do with a good pair.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLineEdit, QPushButton, QWidget

REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_file_problem(repo: str, filename: str) -> str | None:
    """Why ``repo``/``filename`` cannot name a GGUF on the hub, or None if they can."""
    if not REPO_RE.match(repo):
        return "Give the repository as owner/name, e.g. Qwen/Qwen3-4B-GGUF."
    if not filename.lower().endswith(".gguf"):
        return "Give the name of a .gguf file in that repository."
    return None


class HubFileForm(QGroupBox):
    """Two fields and a button; Return in either field asks too.

    Signals:
        requested(str, str): a well-formed repository and .gguf file name.
        refused(str): what is wrong with what was typed.
    """

    requested = Signal(str, str)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Add from the Hugging Face hub", parent)
        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/repository, e.g. Qwen/Qwen3-4B-GGUF")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("file name, e.g. Qwen3-4B-Q4_K_M.gguf")
        self.add_button = QPushButton("Download from hub")
        row = QHBoxLayout(self)
        row.addWidget(self.repo_edit, 2)
        row.addWidget(self.file_edit, 2)
        row.addWidget(self.add_button)
        self.add_button.clicked.connect(self.submit)
        self.repo_edit.returnPressed.connect(self.submit)
        self.file_edit.returnPressed.connect(self.submit)

    def submit(self) -> None:
        repo, filename = self.repo_edit.text().strip(), self.file_edit.text().strip()
        problem = hub_file_problem(repo, filename)
        if problem:
            self.refused.emit(problem)
        else:
            self.requested.emit(repo, filename)
