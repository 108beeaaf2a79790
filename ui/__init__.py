"""The Gradio face of the studio: layout, event wiring, translation. No model code lives here."""
