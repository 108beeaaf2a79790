"""The page: three tabs sharing one set of controls per tab, wired to `Handlers`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from cogvideo.models import Variant

from .components import UploadedImage
from .handlers import Handlers, gpu_task
from .i18n import build_i18n

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"

T2V_EXAMPLES = [
    "A golden retriever puppy runs through a sunlit meadow of wildflowers, ears flopping, petals "
    "drifting in the warm breeze; the camera tracks alongside at ground level, soft golden-hour light.",
    "A little boy in a blue shirt sits on a park bench holding a steaming cup of cocoa; dappled "
    "sunlight through the trees, pigeons walk nearby, the camera slowly pushes in on his smile.",
    "A red paper boat floats down a rain-soaked city street at night, neon reflections rippling in "
    "the puddles; slow-motion raindrops, the camera follows the boat at water level.",
    "An astronaut in a white suit walks across a field of glowing blue flowers under two moons; "
    "gentle wind, the camera circles slowly, dreamy cinematic lighting.",
]
I2V_EXAMPLES = [
    [str(EXAMPLES / "lake_sunset.jpg"),
     "The sun sinks slowly behind the mountains while the small boat drifts on the lake; ripples spread "
     "across the golden water and thin clouds glide across the sky. The camera pushes in gently."],
]
OLD_EXAMPLES = [
    [str(EXAMPLES / "old_family_photo.jpg"),
     "The people in the photo come to life: they smile, blink and turn gently toward each other; "
     "warm afternoon light, a slow push-in."],
]

CSS = """
.generate-btn {min-height: 56px; font-size: 1.15em !important;}
.prompt-note {opacity: .75; font-size: .9em; margin-top: -6px;}
footer {display: none !important;}
"""


@dataclass(frozen=True)
class PageConfig:
    t2v: Variant | None
    i2v: Variant | None
    lang: str | None  # forced UI language, or None to follow the browser


def build_demo(handlers: Handlers, config: PageConfig) -> gr.Blocks:
    from cogvideo.music import load_tracks
    from cogvideo.styles import load_styles

    styles = load_styles()
    tracks = load_tracks()
    names = {f"style.{s.id}": (s.name_en, s.name_zh) for s in styles.values()}
    names.update({f"track.{t.id}": (f"{t.name_en} · {t.mood}", t.name_zh) for t in tracks.values()})
    i18n = build_i18n(config.lang, names)
    style_choices = [(i18n(f"style.{s.id}"), s.id) for s in styles.values()]
    track_choices = [(i18n("music_none"), "none")] + [(i18n(f"track.{t.id}"), t.id) for t in tracks.values()]
    track_files = {t.id: str(t.file) for t in tracks.values()}

    def style_help(style_id: str, request: gr.Request):
        style = styles.get(style_id)
        lang = handlers.lang(request)
        return "" if style is None else (style.description_en if lang == "en" else style.description_zh)

    def preview_track(track_id: str):
        return track_files.get(track_id)

    def controls(task: str, default_music: str = "none"):
        """Style, music, enhancement toggles and advanced settings for one tab."""
        variant = config.t2v if task == "t2v" else config.i2v
        with gr.Row():
            style = gr.Dropdown(style_choices, value="none", label=i18n("style"), scale=2)
            style_note = gr.Markdown(elem_classes="prompt-note")
        style.change(style_help, style, style_note, queue=False, api_visibility="private")
        with gr.Row(equal_height=True):
            music = gr.Dropdown(track_choices, value=default_music, label=i18n("music"), scale=2)
            music_volume = gr.Slider(0, 1, value=0.8, step=0.05, label=i18n("volume"), scale=1)
        with gr.Row(equal_height=True):
            preview = gr.Audio(value=track_files.get(default_music), label=i18n("music_preview"),
                               interactive=False, scale=2)
            music_file = gr.File(label=i18n("music_upload"), file_types=["audio"], scale=1, height=90)
        music.change(preview_track, music, preview, queue=False, api_visibility="private")
        with gr.Row():
            upscale = gr.Checkbox(value=False, label=i18n("upscale"))
            interpolate = gr.Checkbox(value=False, label=i18n("interpolate"))
        with gr.Accordion(i18n("advanced"), open=False):
            negative_prompt = gr.Textbox(value="", label=i18n("negative_prompt"), lines=2)
            with gr.Row():
                seed = gr.Number(value=-1, precision=0, label=i18n("seed"), interactive=False)
                randomize = gr.Checkbox(value=True, label=i18n("randomize"))
            randomize.change(
                lambda random_seed: gr.update(value=-1, interactive=not random_seed) if random_seed
                else gr.update(interactive=True),
                randomize, seed, queue=False, api_visibility="private",
            )
            with gr.Row():
                steps = gr.Slider(1, 100, value=50, step=1, label=i18n("steps"))
                guidance = gr.Slider(0, 20, value=6.0, step=0.5, label=i18n("guidance"))
            frames = gr.Slider(
                variant.min_frames if variant else 9, variant.max_frames if variant else 49,
                value=variant.num_frames if variant else 49, step=variant.frame_step if variant else 8,
                label=i18n("frames"),
            )
            gr.Textbox(value=variant.label if variant else "—", label=i18n("model"), interactive=False)
        return dict(style=style, music=music, music_volume=music_volume, music_file=music_file,
                    upscale=upscale, interpolate=interpolate, negative_prompt=negative_prompt,
                    seed=seed, randomize=randomize, steps=steps, guidance=guidance, frames=frames)

    def prompt_box(task: str, placeholder_key: str, lines: int = 5):
        prompt = gr.Textbox(value="", label=i18n("prompt"), placeholder=i18n(placeholder_key), lines=lines,
                            max_lines=12, max_length=20_000)
        note = gr.Markdown(elem_classes="prompt-note")
        with gr.Row():
            suggest = gr.Button(i18n("suggest"), size="sm", variant="secondary")
            restore = gr.Button(i18n("restore"), size="sm", variant="secondary")
        original = gr.State("")
        task_box = gr.State(task)
        return prompt, note, suggest, restore, original, task_box

    def wire_prompt(prompt, note, suggest, restore, original, task_box, style, image=None, mode="t2v"):
        prompt.change(handlers.prompt_note, [prompt, style, task_box], note, queue=False,
                      trigger_mode="always_last", api_visibility="private")
        style.change(handlers.prompt_note, [prompt, style, task_box], note, queue=False, api_visibility="private")

        def stream(text, picture, style_id, request: gr.Request):
            yield from handlers.suggest_stream(text, picture, mode, style_id, request)

        suggest.click(lambda text: text, prompt, original, queue=False, api_visibility="private").then(
            stream, [prompt, image if image is not None else gr.State(None), style], prompt,
            api_visibility="private", concurrency_limit=4, concurrency_id="agent",
        )
        restore.click(lambda text, now: text or now, [original, prompt], prompt, queue=False,
                      api_visibility="private")

    def result_panel(with_still: bool = False):
        still = None
        video = gr.Video(label=i18n("result"), autoplay=True, loop=True, buttons=["download"],
                         interactive=False, height=420)
        if with_still:
            still = gr.Image(label=i18n("colorized"), type="pil", interactive=False, buttons=["download"],
                             height=240, format="png")
        with gr.Row():
            used_seed = gr.Textbox(value="", label=i18n("used_seed"), interactive=False)
        final_prompt = gr.Textbox(label=i18n("final_prompt"), lines=3, interactive=False)
        apply_music = gr.Button(i18n("apply_music"), size="sm")
        with gr.Accordion(i18n("details"), open=False):
            info = gr.JSON(label=i18n("details"))
        return video, still, used_seed, final_prompt, apply_music, info

    def show_used(details):
        """The seed and final prompt actually used, from the job's info."""
        if not details:
            return gr.skip(), gr.skip()
        return str(details.get("seed", "")), details.get("prompt")

    # Gradio's own copies of uploads and results: checked hourly, removed after a day.
    with gr.Blocks(title="CogVideoX Studio", delete_cache=(3600, 86400)) as demo:
        gr.Markdown(i18n("header"))
        status = gr.Markdown()
        demo.load(handlers.status_line, None, status, queue=False, api_visibility="private")

        with gr.Tabs():
            # ---------------------------------------------------------------- text to video
            with gr.Tab(i18n("tab_t2v"), id="t2v"):
                with gr.Row():
                    with gr.Column(scale=5):
                        prompt, note, suggest, restore, original, task_box = prompt_box("t2v", "prompt_placeholder")
                        c = controls("t2v")
                        with gr.Row():
                            generate = gr.Button(i18n("generate"), variant="primary", elem_classes="generate-btn", scale=3)
                            cancel = gr.Button(i18n("cancel"), variant="stop", scale=1)
                        gr.Examples([[p] for p in T2V_EXAMPLES], inputs=[prompt], label=i18n("examples"))
                    with gr.Column(scale=6):
                        video, _, used_seed, final_prompt, apply_music, info = result_panel()
                wire_prompt(prompt, note, suggest, restore, original, task_box, c["style"])
                event = generate.click(
                    gpu_task(handlers.text_to_video),
                    [prompt, c["negative_prompt"], c["seed"], c["steps"], c["guidance"], c["frames"],
                     c["style"], c["music"], c["music_volume"], c["upscale"], c["interpolate"], c["music_file"]],
                    [video, info], api_name="text_to_video", concurrency_limit=1, concurrency_id="gpu",
                )
                event.success(show_used, info, [used_seed, final_prompt], queue=False,
                              api_visibility="private")
                cancel.click(handlers.cancel, None, None, queue=False, api_visibility="private", cancels=[event])
                apply_music.click(handlers.change_music, [video, c["music"], c["music_volume"], c["music_file"]],
                                  video, api_name="change_music", concurrency_limit=2, concurrency_id="music")

            # ---------------------------------------------------------------- image to video
            with gr.Tab(i18n("tab_i2v"), id="i2v"):
                with gr.Row():
                    with gr.Column(scale=5):
                        image = UploadedImage(label=i18n("first_frame"), type="filepath", sources=["upload", "clipboard"], height=300)
                        prompt2, note2, suggest2, restore2, original2, task_box2 = prompt_box("i2v", "i2v_prompt_placeholder", 3)
                        c2 = controls("i2v")
                        with gr.Row():
                            generate2 = gr.Button(i18n("generate"), variant="primary", elem_classes="generate-btn", scale=3)
                            cancel2 = gr.Button(i18n("cancel"), variant="stop", scale=1)
                        examples2 = gr.Examples(I2V_EXAMPLES, inputs=[image, prompt2], label=i18n("examples"))
                        examples2.dataset.headers = []  # the table header would show untranslated keys
                    with gr.Column(scale=6):
                        video2, _, used_seed2, final_prompt2, apply_music2, info2 = result_panel()
                wire_prompt(prompt2, note2, suggest2, restore2, original2, task_box2, c2["style"], image, "i2v")
                event2 = generate2.click(
                    gpu_task(handlers.image_to_video),
                    [image, prompt2, c2["negative_prompt"], c2["seed"], c2["steps"], c2["guidance"], c2["frames"],
                     c2["style"], c2["music"], c2["music_volume"], c2["upscale"], c2["interpolate"], c2["music_file"]],
                    [video2, info2], api_name="image_to_video", concurrency_limit=1, concurrency_id="gpu",
                )
                event2.success(show_used, info2, [used_seed2, final_prompt2], queue=False,
                               api_visibility="private")
                cancel2.click(handlers.cancel, None, None, queue=False, api_visibility="private", cancels=[event2])
                apply_music2.click(handlers.change_music, [video2, c2["music"], c2["music_volume"], c2["music_file"]],
                                   video2, api_visibility="private", concurrency_limit=2, concurrency_id="music")

            # ---------------------------------------------------------------- old photo
            with gr.Tab(i18n("tab_old"), id="old_photo"):
                with gr.Row():
                    with gr.Column(scale=5):
                        photo = UploadedImage(label=i18n("old_image"), type="filepath", sources=["upload", "clipboard"], height=300)
                        colorize = gr.Checkbox(value=True, label=i18n("colorize"))
                        prompt3, note3, suggest3, restore3, original3, task_box3 = prompt_box("i2v", "old_prompt_placeholder", 3)
                        c3 = controls("i2v", default_music="nostalgic" if "nostalgic" in tracks else "none")
                        with gr.Row():
                            generate3 = gr.Button(i18n("generate"), variant="primary", elem_classes="generate-btn", scale=3)
                            cancel3 = gr.Button(i18n("cancel"), variant="stop", scale=1)
                        examples3 = gr.Examples(OLD_EXAMPLES, inputs=[photo, prompt3], label=i18n("examples"))
                        examples3.dataset.headers = []
                    with gr.Column(scale=6):
                        video3, still3, used_seed3, final_prompt3, apply_music3, info3 = result_panel(with_still=True)
                wire_prompt(prompt3, note3, suggest3, restore3, original3, task_box3, c3["style"], photo, "old_photo")
                event3 = generate3.click(
                    handlers.colorize_preview, [photo, colorize], still3, api_visibility="private",
                    concurrency_limit=1, concurrency_id="gpu",
                ).success(
                    gpu_task(handlers.old_photo),
                    [photo, prompt3, colorize, c3["seed"], c3["steps"], c3["guidance"], c3["frames"], c3["style"],
                     c3["music"], c3["music_volume"], c3["upscale"], c3["interpolate"], c3["negative_prompt"],
                     c3["music_file"]],
                    [video3, still3, info3], api_name="old_photo", concurrency_limit=1, concurrency_id="gpu",
                )
                event3.success(show_used, info3, [used_seed3, final_prompt3], queue=False,
                               api_visibility="private")
                cancel3.click(handlers.cancel, None, None, queue=False, api_visibility="private", cancels=[event3])
                apply_music3.click(handlers.change_music, [video3, c3["music"], c3["music_volume"], c3["music_file"]],
                                   video3, api_visibility="private", concurrency_limit=2, concurrency_id="music")

        # The prompt agent for scripts: one finished suggestion, no streaming.
        with gr.Column(visible=False):
            api_prompt = gr.Textbox(value="")
            api_image = UploadedImage(type="filepath", value=None)
            api_mode = gr.Dropdown(["t2v", "i2v", "old_photo"], value="t2v")
            api_style = gr.Dropdown([s.id for s in styles.values()], value="none")
            api_text = gr.Textbox()
            api_button = gr.Button()
        api_button.click(handlers.suggest_prompt, [api_prompt, api_image, api_mode, api_style], api_text,
                         api_name="suggest_prompt", concurrency_limit=4, concurrency_id="agent")

    demo.i18n_table = i18n
    return demo
