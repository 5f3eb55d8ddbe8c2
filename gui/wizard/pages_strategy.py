"""Step 2: how to train (strategy) and which ResNet (backbone). The recommendation for the
data is preselected and explained with its thresholds; missing ImageNet weights are named
(file and folder) with a way to import them, or to train from scratch instead."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from engine.train import strategies as S
from gui.wizard.common import Banner, dim_label, escape
from gui.wizard.worker import BackgroundJob, JobError

STRATEGY_TEXT = {
    "probe-features": ("Linear probe on stored features",
                       "The ImageNet network runs once over every image; only a linear layer is trained. "
                       "Fastest, hard to overfit, no augmentation."),
    "probe-frozen": ("Frozen network, new last layer",
                     "The ImageNet network stays fixed; the last layer learns from augmented images."),
    "finetune": ("Fine-tune the whole network",
                 "Starts from ImageNet weights and trains every layer at a low learning rate."),
    "scratch": ("Train from scratch",
                "Random start, no ImageNet weights needed; needs many images per class and more epochs."),
}  # fmt: skip
BACKBONE_TEXT = {
    "resnet18": "11.7 M parameters, fastest",
    "resnet34": "21.8 M parameters",
    "resnet50": "25.6 M parameters, strongest features, slowest",
}


def recommendation_rules(min_per_class: Optional[int], weights: bool) -> str:
    """The thresholds as an HTML table, the row that applies to this data in bold."""
    rows = [
        (not weights, "no ImageNet weights on this machine", "scratch"),
        (weights and min_per_class is not None and min_per_class < S.PROBE_FEATURES_BELOW,
         f"smallest class &lt; {S.PROBE_FEATURES_BELOW} training images", "probe-features"),
        (weights and min_per_class is not None and S.PROBE_FEATURES_BELOW <= min_per_class < S.WARM_START_BELOW,
         f"{S.PROBE_FEATURES_BELOW} to {S.WARM_START_BELOW - 1} images",
         f"finetune, warm start {S.RECOMMENDED_WARM_START_EPOCHS} epochs, layer LR decay "
         f"{S.RECOMMENDED_LAYER_DECAY}"),
        (weights and min_per_class is not None and min_per_class >= S.WARM_START_BELOW,
         f"{S.WARM_START_BELOW} images or more", "finetune, whole network"),
    ]  # fmt: skip
    html = ["<table cellspacing='0' cellpadding='2'>"]
    for applies, condition, strategy in rows:
        style = "color:#e4e6ea; font-weight:bold" if applies else "color:#8a9099"
        mark = "&#9656;" if applies else "&nbsp;"
        html.append(f"<tr style='{style}'><td>{mark}</td><td>{condition}</td><td>&nbsp;&rarr;&nbsp;</td>"
                    f"<td>{strategy}</td></tr>")  # fmt: skip
    html.append("</table>")
    return "".join(html)


class StrategyPage(QWizardPage):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setTitle("Strategy and backbone")
        self.setSubTitle("How much of the network learns from your images, and which ResNet to start from.")
        self.recommendation: Optional[S.Recommendation] = None
        self._import_job: Optional[BackgroundJob] = None

        self.advice = QLabel()
        self.advice.setWordWrap(True)
        self.advice.setTextFormat(Qt.TextFormat.RichText)
        self.rules = QLabel()
        self.rules.setTextFormat(Qt.TextFormat.RichText)
        advice_box = QGroupBox("Recommendation for this data")
        advice_layout = QHBoxLayout(advice_box)
        advice_layout.addWidget(self.advice, 3)
        advice_layout.addWidget(self.rules, 2)

        self.strategy_group = QButtonGroup(self)
        self.strategy_buttons: dict[str, QRadioButton] = {}
        strategy_box = QGroupBox("Strategy")
        strategy_layout = QGridLayout(strategy_box)
        for row, name in enumerate(S.STRATEGIES):
            title, text = STRATEGY_TEXT[name]
            button = QRadioButton(f"{title}  ({name})")
            button.setProperty("strategy", name)
            self.strategy_group.addButton(button)
            self.strategy_buttons[name] = button
            strategy_layout.addWidget(button, row * 2, 0)
            note = dim_label(text)
            note.setContentsMargins(24, 0, 0, 4)
            strategy_layout.addWidget(note, row * 2 + 1, 0)
        self.strategy_group.buttonToggled.connect(self._changed)

        self.warm_spin = QSpinBox()
        self.warm_spin.setRange(0, 100)
        self.warm_spin.setSuffix(" epochs")
        self.warm_spin.setToolTip("The ImageNet layers stay frozen for these first epochs while the new last layer settles")
        self.decay_check = QCheckBox("Layer-wise learning rate decay")
        self.decay_spin = QDoubleSpinBox()
        self.decay_spin.setRange(0.05, 1.0)
        self.decay_spin.setSingleStep(0.05)
        self.decay_spin.setValue(S.RECOMMENDED_LAYER_DECAY)
        self.decay_spin.setToolTip("Each earlier stage learns this many times slower than the one after it")
        self.decay_check.toggled.connect(self._sync_finetune)
        self.finetune_box = QGroupBox("Fine-tuning options")
        finetune_layout = QGridLayout(self.finetune_box)
        finetune_layout.addWidget(QLabel("Warm start (frozen network)"), 0, 0)
        finetune_layout.addWidget(self.warm_spin, 0, 1)
        finetune_layout.addWidget(self.decay_check, 1, 0)
        finetune_layout.addWidget(self.decay_spin, 1, 1)
        finetune_layout.setColumnStretch(2, 1)

        self.backbone_group = QButtonGroup(self)
        self.backbone_buttons: dict[str, QRadioButton] = {}
        self.backbone_status: dict[str, QLabel] = {}
        backbone_box = QGroupBox("Backbone (ImageNet weights)")
        backbone_layout = QGridLayout(backbone_box)
        for row, name in enumerate(S.BACKBONES):
            button = QRadioButton(name + ("  (default)" if name == S.DEFAULT_BACKBONE else ""))
            button.setProperty("backbone", name)
            self.backbone_group.addButton(button)
            self.backbone_buttons[name] = button
            status = dim_label()
            self.backbone_status[name] = status
            backbone_layout.addWidget(button, row, 0)
            backbone_layout.addWidget(dim_label(BACKBONE_TEXT[name]), row, 1)
            backbone_layout.addWidget(status, row, 2)
        backbone_layout.setColumnStretch(1, 1)
        self.backbone_buttons[S.DEFAULT_BACKBONE].setChecked(True)
        self.backbone_group.buttonToggled.connect(self._changed)

        self.weights_message = Banner()
        self.import_button = QPushButton("Import weights file...")
        self.import_button.clicked.connect(self._import_weights)
        self.scratch_button = QPushButton("Train from scratch instead")
        self.scratch_button.clicked.connect(lambda: self.set_strategy("scratch"))
        self.download_check = QCheckBox("Download the weights when training starts")
        self.download_check.setToolTip("Needs a network connection; the file goes to the folder named above")
        self.download_check.toggled.connect(self._changed)
        self.weights_actions = QWidget()
        actions = QHBoxLayout(self.weights_actions)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.import_button)
        actions.addWidget(self.scratch_button)
        actions.addWidget(self.download_check)
        actions.addStretch(1)

        left = QVBoxLayout()
        left.addWidget(strategy_box)
        left.addWidget(self.finetune_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(backbone_box)
        right.addWidget(self.weights_message)
        right.addWidget(self.weights_actions)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(advice_box)
        layout.addLayout(columns, 1)

    # -- state --------------------------------------------------------------------------------

    @property
    def strategy(self) -> str:
        button = self.strategy_group.checkedButton()
        return button.property("strategy") if button else ""

    @property
    def backbone(self) -> str:
        button = self.backbone_group.checkedButton()
        return button.property("backbone") if button else S.DEFAULT_BACKBONE

    def set_strategy(self, name: str) -> None:
        self.strategy_buttons[name].setChecked(True)

    def set_backbone(self, name: str) -> None:
        self.backbone_buttons[name].setChecked(True)

    def warm_start_epochs(self) -> int:
        return self.warm_spin.value() if self.strategy == "finetune" else 0

    def layer_decay(self) -> Optional[float]:
        return self.decay_spin.value() if self.strategy == "finetune" and self.decay_check.isChecked() else None

    def weights_available(self, backbone: Optional[str] = None) -> bool:
        from engine.train import imagenet_weights_available

        return imagenet_weights_available(backbone or self.backbone)

    def needs_missing_weights(self) -> bool:
        return (S.uses_imagenet(self.strategy) and not self.weights_available()
                and not self.download_check.isChecked())  # fmt: skip

    # -- QWizardPage --------------------------------------------------------------------------

    def initializePage(self) -> None:  # noqa: N802 - Qt name
        """Recommend for the scanned data and preselect it (each time new data is scanned)."""
        report = getattr(self.wizard(), "report", None)
        smallest = report.min_train_per_class if report is not None else None
        advice = S.recommend(smallest if smallest is not None else 0, self.weights_available())
        if advice != self.recommendation or not self.strategy:
            self.recommendation = advice
            self.set_strategy(advice.strategy)
            if advice.strategy == "finetune":
                self.warm_spin.setValue(advice.warm_start_epochs)
                self.decay_check.setChecked(advice.layer_decay is not None)
                if advice.layer_decay is not None:
                    self.decay_spin.setValue(advice.layer_decay)
        self._show_advice(smallest)
        self._changed()

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        return bool(self.strategy) and not self.needs_missing_weights() and self._import_job is None

    def validatePage(self) -> bool:  # noqa: N802 - Qt name; QWizard.next() skips isComplete
        return self.isComplete()

    # -- updates ------------------------------------------------------------------------------

    def _show_advice(self, smallest: Optional[int]) -> None:
        advice = self.recommendation
        if advice is None:
            return
        extra = ""
        if advice.strategy == "finetune" and advice.warm_start_epochs:
            extra = (f", warm start {advice.warm_start_epochs} epochs, layer-wise LR decay "
                     f"{advice.layer_decay}")  # fmt: skip
        title = STRATEGY_TEXT[advice.strategy][0]
        data = ""
        if smallest is not None and "smallest class" not in advice.reason:
            data = f"Your smallest class has <b>{smallest}</b> training images. "
        self.advice.setText(f"<p style='font-size:large'><b>{title}</b> ({advice.strategy}{extra})</p>"
                            f"<p>{data}Why: {escape(advice.reason)}.</p>"
                            "<p style='color:#9aa1ab'>It is preselected below; any strategy can be chosen.</p>")
        self.rules.setText("<b>How the recommendation is made</b> (smallest class, training images)<br>"
                           + recommendation_rules(smallest, self.weights_available()))  # fmt: skip

    def _sync_finetune(self) -> None:
        finetune = self.strategy == "finetune"
        self.finetune_box.setEnabled(finetune)
        self.decay_spin.setEnabled(finetune and self.decay_check.isChecked())

    def _changed(self, *args) -> None:
        self._sync_finetune()
        for name, label in self.backbone_status.items():
            found = self.weights_available(name)
            label.setText("weights found" if found else "weights missing")
            label.setStyleSheet("color: #8fdca8" if found else "color: #ff9a9a")
        self._show_weights_message()
        self.completeChanged.emit()

    def _show_weights_message(self) -> None:
        backbone, strategy = self.backbone, self.strategy
        if self.weights_available(backbone):
            self.weights_message.clear_message()
            self.weights_actions.hide()
            return
        path = S.imagenet_weights_path(backbone)
        where = (f"The file <b>{escape(path.name)}</b> belongs in the folder "
                 f"<b>{escape(str(path.parent))}</b>.")  # fmt: skip
        if not S.uses_imagenet(strategy):
            text = (f"<b>ImageNet weights for {backbone} are not on this machine</b>, so only training from "
                    f"scratch is possible.<br>{where}<br>Import the file to use the other strategies.")  # fmt: skip
            kind = "info"
        else:
            text = (f"<b>ImageNet weights for {backbone} are missing</b>, and the '{strategy}' strategy needs "
                    f"them.<br>{where}<br>Import the file, let it download when training starts, or train "
                    "from scratch (no weights needed).")  # fmt: skip
            kind = "info" if self.download_check.isChecked() else "warning"
        self.weights_message.show_message(text, kind)
        self.scratch_button.setVisible(S.uses_imagenet(strategy))
        self.download_check.setVisible(S.uses_imagenet(strategy))
        self.weights_actions.show()

    # -- importing weights --------------------------------------------------------------------

    def _import_weights(self) -> None:
        backbone = self.backbone
        target = S.imagenet_weights_path(backbone)
        source, _ = QFileDialog.getOpenFileName(self, f"ImageNet weights for {backbone} ({target.name})",
                                                str(Path.home()), "PyTorch weights (*.pth *.pt);;All files (*)")  # fmt: skip
        if source:
            self.import_weights(source, backbone)

    def import_weights(self, source: str, backbone: str) -> None:
        """Check that `source` holds `backbone` weights, then copy it into torchvision's cache."""
        target = S.imagenet_weights_path(backbone)

        def work(job: BackgroundJob) -> Path:
            from engine import weights as W

            state = W.extract_state_dict(W.load_weights_file(source))
            model = S.build_for_checkpoint(backbone, 1000)  # the ImageNet head: 1000 classes
            try:
                model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
            except RuntimeError as exc:
                raise W.WeightsError(f"{source}: not {backbone} ImageNet weights ({str(exc).splitlines()[0]})") from None
            return W.install_file(Path(source), target)

        job = BackgroundJob(work, "import-weights", self)
        job.succeeded.connect(self._on_imported)
        job.failed.connect(self._on_import_failed)
        self._import_job = job
        self.import_button.setEnabled(False)
        self.weights_message.show_message(f"Checking and copying {escape(source)}...", "info")
        self.completeChanged.emit()
        job.start()

    def _on_imported(self, path: Path) -> None:
        self._import_job = None
        self.import_button.setEnabled(True)
        self.initializePage()
        self.weights_message.show_message(f"Weights imported to {escape(str(path))}.", "ok")

    def _on_import_failed(self, error: JobError) -> None:
        self._import_job = None
        self.import_button.setEnabled(True)
        self._changed()
        self.weights_message.show_message(f"<b>The file was not imported.</b><br>{escape(error.message)}", "error")
