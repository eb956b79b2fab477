"""The offer to finish an interrupted consensus run, shown over its saved samples."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class ResumeBar(QFrame):
    """ "k of N samples were saved" and a Resume button, for a run Quorum lost mid-way.

    Signals:
        resume_requested(int): the user asked to resume; the payload is the run's id.
    """

    resume_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resumeBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.button = QPushButton("Resume")
        self.button.setToolTip("Run only the missing samples, each with the seed it had")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.run_id: int | None = None
        self.button.clicked.connect(self._on_clicked)
        self.hide()

    def offer(self, run_id: int, saved: int, total: int) -> None:
        self.run_id = run_id
        missing = total - saved
        self.label.setText(
            f"This run stopped with {saved} of {total} samples saved. Resume runs the other "
            f"{missing} with the seeds they had, and the figures then cover all {total}."
        )
        self.button.setText(f"Resume {missing} sample{'s' if missing != 1 else ''}")
        self.show()

    def withdraw(self) -> None:
        self.run_id = None
        self.hide()

    def _on_clicked(self) -> None:
        if self.run_id is not None:
            self.resume_requested.emit(self.run_id)
