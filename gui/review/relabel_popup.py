"""A small popup to pick another class of the model, or name a new one: type to filter, Enter to
choose; a name no class has is offered as "+ New class" (the review core adds it)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.review import category_choices


NEW = -1  # the data of the "+ New class" item


class RelabelPopup(QFrame):
    chosen = Signal(int)  # class index
    named = Signal(str)  # a class the model does not have

    def __init__(self, class_names, current: int, parent: Optional[QWidget] = None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("relabelPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Relabel as… (type to filter)")
        self.list = QListWidget()
        for index, name in category_choices(class_names):
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.list.addItem(item)
            if index == current:
                self.list.setCurrentItem(item)
        self.new_item = QListWidgetItem("")
        self.new_item.setData(Qt.ItemDataRole.UserRole, NEW)
        self.new_item.setHidden(True)
        self.list.addItem(self.new_item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.resize(240, min(360, 60 + 22 * self.list.count()))
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._choose_current)
        self.list.itemActivated.connect(self._choose)
        self.list.itemClicked.connect(self._choose)

    def open_at(self, position: QPoint) -> None:
        self.move(position)
        self.show()
        self.search.setFocus()

    def _filter(self, text: str) -> None:
        name, text = text.strip(), text.strip().lower()
        exact = any(self.list.item(i).text().lower() == text for i in range(self.list.count() - 1))
        self.new_item.setText(f"+ New class \u201c{name}\u201d")
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item is self.new_item:
                hidden = not text or exact
            else:
                hidden = bool(text) and text not in item.text().lower()
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        if first is not None:
            self.list.setCurrentItem(first)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.list.keyPressEvent(event)
            return
        super().keyPressEvent(event)

    def _choose_current(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._choose(item)

    def _choose(self, item: QListWidgetItem) -> None:
        index = int(item.data(Qt.ItemDataRole.UserRole))
        if index == NEW:
            self.named.emit(self.search.text().strip())
        else:
            self.chosen.emit(index)
        self.close()
