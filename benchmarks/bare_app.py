"""The first-frame baseline: a bare Textual app (Header, one Label, Footer)."""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Label


class BareApp(App[None]):
    TITLE = "bare"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("bare textual app")
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
