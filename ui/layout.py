"""The page: three generation tabs built by one function, wired to `Handlers`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import gradio as gr

from bilingual import Text, pick
from cogvideo import SpeedPreset, StudioError, Variant
from cogvideo.media.gif import DEFAULT_GIF_FPS, GIF_WIDTHS, MAX_GIF_FPS
from cogvideo.request import (
    DEFAULT_SPEED, MAX_EXTENSIONS, MAX_GUIDANCE, MAX_LORA_SCALE, MAX_STEPS, MAX_STRENGTH, MAX_VOLUME, MIN_LORA_SCALE,
    MIN_STRENGTH, MIN_VOLUME, MODE_TASKS, OLD_PHOTO_MUSIC,
)

from . import again, busy, live, words  # busy: the Generate button as a mini progress
from . import variations as many
from .admin import ADMIN_TEXT, admin_tab
from .api_info import translate_api_labels
from .aspect import ASPECT_MODES, aspect_control, i18n_names as aspect_names
from .api_link import TEXT as API_LINK_TEXT, api_links
from .components import OpenDropdown, OpenRadio, OpenSlider, UploadedImage
from .examples import add_examples
from .handlers import DEFAULTS, Handlers
from .i18n import TEXT, build_i18n
from .phone import PHONE_CSS, scroll_to, scroll_to_prompt

ROOT = Path(__file__).resolve().parents[1]
DELETE_CONFIRM_S = 5.0  # how long 🗑 删除 waits for its confirming second click
EXAMPLES = ROOT / "assets" / "examples"

T2V_EXAMPLES = [
    ["A golden retriever puppy runs through a sunlit meadow of wildflowers, ears flopping, petals "
     "drifting in the warm breeze; the camera tracks alongside at ground level, soft golden-hour light."],
    ["A little boy in a blue shirt sits on a park bench holding a steaming cup of cocoa; dappled "
     "sunlight through the trees, pigeons walk nearby, the camera slowly pushes in on his smile."],
    ["A red paper boat floats down a rain-soaked city street at night, neon reflections rippling in "
     "the puddles; slow-motion raindrops, the camera follows the boat at water level."],
    ["An astronaut in a white suit walks across a field of glowing blue flowers under two moons; "
     "gentle wind, the camera circles slowly, dreamy cinematic lighting."],
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
#works-gallery .caption-label {white-space: normal; font-size: .8em;}
#studio-status p {font-size: .9em; margin: 0;}
#studio-status details {font-size: .8em; opacity: .8;}
#studio-status summary {cursor: pointer;}
#studio-status .lane {white-space: nowrap;}
.free-left p {font-size: .9em; margin: 0; opacity: .85;}
""" + live.CSS + PHONE_CSS + many.CSS


def cleared_result(parts: list[gr.components.Component]) -> dict:
    """Updates that empty a tab's result column (video, still, details, seed, final prompt)."""
    return {part: (None if isinstance(part, (gr.Video, gr.Image, gr.JSON)) else "") for part in parts}


@dataclass(frozen=True)
class PageConfig:
    t2v: Variant | None
    i2v: Variant | None
    lang: str | None  # forced UI language, or None to follow the browser
    speed: str = DEFAULT_SPEED  # the speed preset the page starts with (--speed)
    speeds: tuple[str, ...] | None = None  # the presets whose cache fits on this card; None: all


@dataclass(frozen=True)
class TabSpec:
    """What differs between the generation tabs; everything else is built the same way."""

    title_key: str
    tab_id: str
    mode: str  # "t2v", "i2v" or "old_photo": the studio mode and the prompt agent's mode
    handler: Callable
    api_name: str
    placeholder_key: str
    examples: list[list[str]]
    image_key: str | None = None  # label of the picture upload, for image tabs
    video_key: str | None = None  # label of the clip upload, for the restyle and extend tabs
    default_music: str = "none"
    prompt_lines: int = 3

    @property
    def task(self) -> str:
        return MODE_TASKS[self.mode]


def speed_fit_info(presets: Mapping[str, SpeedPreset], speeds: tuple[str, ...],
                   family_speeds: tuple[str, ...] | None = None, family: str = "CogVideoX") -> tuple[str, str]:
    """The speed choice's help: what the presets do, and which are not offered and why: the model's
    family has no evidence for them (`family_speeds`: those it has; None: all), or this card cannot
    hold their cache."""
    untried = [preset for key, preset in presets.items() if family_speeds is not None and key not in family_speeds]
    too_big = [preset for key, preset in presets.items() if key not in speeds and preset not in untried]
    # The presets' description names what the speed-ups do: only worth its words where one is offered.
    en, zh = TEXT["speed_info" if [key for key in speeds if key != "quality"] else "speed_info_quality"]
    if untried:
        en += (f" {' and '.join(p.name.en for p in untried)} are not offered on {family} models: their caching "
               "settings are checked on CogVideoX only.")
        zh += f"“{'”“'.join(p.name.zh for p in untried)}”暂不支持 {family} 模型（其缓存参数只在 CogVideoX 上验证过）。"
    if too_big:
        en += (f" {' and '.join(p.name.en for p in too_big)} need more graphics memory than this card "
               "has, so they are not offered here.")
        zh += f"“{'”和“'.join(p.name.zh for p in too_big)}”需要的显存超出这块显卡，这里不提供。"
    return en, zh


# What a tab without its model says first: why the mode needs image to video.
UNABLE_LEADS = {
    "old_photo": Text("An old photo comes to life through image to video. ", "老照片动起来要用到图生视频。"),
    "extend": Text("Extending continues a video from its last frame with image to video. ",
                   "视频续写要用图生视频从最后一帧接着生成。"),
}


# Where a model that lacks one task (the key) makes its videos.
INSTEAD = {
    "i2v": Text("This model makes videos in the Text to video and Restyle tabs.",
                "这个模型可以在“文生视频”和“视频转绘”中使用。"),
    "t2v": Text("This model makes videos from a picture, in the Image to video, Old photo and Extend tabs.",
                "这个模型可以用图片生成视频，请使用“图生视频”“老照片”和“视频续写”。"),
}


def unable_note(studio, mode: str) -> Text | None:
    """Why this studio's model cannot make `mode` (the studio's own refusal, naming the models that
    can), and what it can do instead; None when it can."""
    try:
        studio.variant(MODE_TASKS[mode])
    except StudioError as exc:
        lead = UNABLE_LEADS.get(mode, Text("", ""))
        instead = INSTEAD[MODE_TASKS[mode]]
        return Text(f"⚠️ {lead.en}{exc.text.en} {instead.en}", f"⚠️ {lead.zh}{exc.text.zh}{instead.zh}")
    return None


def build_demo(handlers: Handlers, config: PageConfig) -> gr.Blocks:
    return PageBuilder(handlers, config).build()


class PageBuilder:
    """The page, built in named parts: the settings and the panels every generation tab shares, one
    generation tab, 我的作品, and the page that holds them. What the parts read (the handlers, the
    config, the page's words and choices) and what they hand each other (each tab's result parts, the
    page's timer and loads, the status line) live on the builder."""

    def __init__(self, handlers: Handlers, config: PageConfig):
        from cogvideo.media.music import load_tracks

        self.handlers, self.config = handlers, config
        self.styles = self.handlers.studio.styles
        self.tracks = load_tracks()
        names = {f"style.{s.id}": (s.name.en, s.name.zh) for s in self.styles.values()}
        presets = self.handlers.studio.speed_presets
        self.speeds = self.config.speeds or tuple(presets)
        names.update({f"speed.{p.id}": (p.name.en, p.name.zh) for p in presets.values()})
        names["speed_fit_info"] = speed_fit_info(presets, self.speeds, self.handlers.studio.family_speeds,
                                                 self.handlers.studio.family_name)
        names.update({f"track.{t.id}": (f"{t.name.en} · {t.mood}", t.name.zh) for t in self.tracks.values()})
        self.templates = self.handlers.templates
        names.update({f"template.{t.id}": (t.name.en, t.name.zh) for t in self.templates.values()})
        names.update(many.TEXT)
        names.update(ADMIN_TEXT)
        self.loras = self.handlers.studio.loras
        names.update(aspect_names({"t2v": self.config.t2v, "i2v": self.config.i2v}))
        for variant in filter(None, (self.config.t2v, self.config.i2v)):
            info = words.frames_info(variant)
            names[f"frames_info.{variant.task}"] = (info.en, info.zh)
        self.unable = {mode: note for mode in MODE_TASKS if (note := unable_note(self.handlers.studio, mode))}
        names.update({f"unable.{mode}": (note.en, note.zh) for mode, note in self.unable.items()})
        self.reads_chinese = self.handlers.studio.reads_chinese
        self.i18n = build_i18n(self.config.lang, {**names, **API_LINK_TEXT})
        self.style_choices = [(self.i18n(f"style.{s.id}"), s.id) for s in self.styles.values()]
        self.track_choices = [(self.i18n("music_none"), "none")] + [
            (self.i18n(f"track.{t.id}"), t.id) for t in self.tracks.values()]
        self.track_files = {t.id: str(t.file) for t in self.tracks.values()}

        self.result_parts: dict[str, list[gr.components.Component]] = {}  # filled by generation_tab
        self.demo_loads: list = []  # (event function, outputs) to run when a page opens: the examples in its language
        self.live_tabs: dict[str, tuple[dict, live.TabParts]] = {}
        self.again_tabs: dict[str, again.ResultTab] = {}
        self.status: gr.Markdown | None = None
        self.page: live.PageParts | None = None
        self.free_notes: list[gr.Markdown] = []  # each tab's "今天还可以生成 N 个视频" (only with the quota on)

    def wire_free_notes(self, demo: gr.Blocks) -> None:
        """The free videos left today, on every tab: when the page opens and at each tick of the page's
        timer (every 2 s while a job waits or renders, so a submission shows within seconds)."""
        notes = self.free_notes
        if not notes:
            return

        def shown(request: gr.Request):
            text = self.handlers.free_videos_note(request)
            return [gr.Markdown(value=text, visible=bool(text)) for _ in notes]

        self.private(demo.load, shown, None, notes)
        self.page.timer.tick(shown, None, notes, queue=False, api_visibility="private", show_progress="hidden")

    def style_help(self, style_id: str, request: gr.Request):
        style = self.styles.get(style_id)
        if style is None:
            return ""
        return pick(style.description, self.handlers.lang(request))

    def show_used(self, details):
        """The seed and final prompt actually used, from the job's info."""
        if not details:
            return gr.skip(), gr.skip()
        return str(details.get("seed", "")), details.get("prompt")

    def details_table(self, values, request: gr.Request):
        return words.details_table(values, self.handlers.lang(request), self.handlers.studio.speed_presets)

    def private(self, event_fn, *args, **kwargs):
        """A cheap UI-only event: not in the API, not queued."""
        return event_fn(*args, queue=False, api_visibility="private", **kwargs)

    def picture_box(self, spec: "TabSpec") -> UploadedImage:
        """A tab's picture input. A file that cannot be used leaves it as it arrives, with the reason
        (`Handlers.check_picture`): queued, unlike the page's other small events, because a toast
        travels only on the queue."""
        image = UploadedImage(label=self.i18n(spec.image_key), type="filepath", sources=["upload", "clipboard"],
                              height=300)
        image.upload(self.handlers.check_picture, image, image, api_visibility="private", concurrency_limit=4,
                     show_progress="hidden")
        return image

    def settings(self, variant: Variant | None, default_music: str) -> dict[str, gr.components.Component]:
        """Style, music, enhancement and advanced controls, keyed by the handler parameter they feed."""
        with gr.Row():
            style = OpenDropdown(self.style_choices, value=DEFAULTS.style, label=self.i18n("style"), scale=2)
            style_note = gr.Markdown(elem_classes="prompt-note")
        self.private(style.change, self.style_help, style, style_note)
        with gr.Row(equal_height=True):
            music = OpenDropdown(self.track_choices, value=default_music, label=self.i18n("music"), scale=2)
            music_volume = OpenSlider(MIN_VOLUME, MAX_VOLUME, value=DEFAULTS.music_volume, step=0.05, label=self.i18n("volume"), scale=1)
        with gr.Row(equal_height=True):
            preview = gr.Audio(value=self.track_files.get(default_music), label=self.i18n("music_preview"),
                               interactive=False, scale=2)
            music_file = gr.File(label=self.i18n("music_upload"), file_types=["audio"], scale=1, height=90)
        self.private(music.change, self.track_files.get, music, preview)
        speed = OpenRadio([(self.i18n(f"speed.{p}"), p) for p in self.speeds],
                          value=self.config.speed if self.config.speed in self.speeds else DEFAULT_SPEED,
                          label=self.i18n("speed"), info=self.i18n("speed_fit_info"))
        with gr.Row():
            # "1440p" is 720×480 doubled (CogVideoX's size); other sizes (Wan's 832×480, 1280×704) say 2×.
            at_480p = variant is None or (variant.width, variant.height) == (720, 480)
            upscale = gr.Checkbox(value=DEFAULTS.upscale, label=self.i18n("upscale" if at_480p else "upscale_2x"))
            interpolate = gr.Checkbox(value=DEFAULTS.interpolate, label=self.i18n("interpolate"))
        with gr.Accordion(self.i18n("advanced"), open=False):
            negative_prompt = gr.Textbox(value=DEFAULTS.negative_prompt, label=self.i18n("negative_prompt"), lines=2)
            with gr.Row():
                seed = gr.Number(value=DEFAULTS.seed, precision=0, label=self.i18n("seed"), interactive=False)
                randomize = gr.Checkbox(value=True, label=self.i18n("randomize"))
            self.private(randomize.change,
                    lambda random_seed: gr.update(value=-1, interactive=False) if random_seed
                    else gr.update(interactive=True),
                    randomize, seed)
            with gr.Row():
                # The studio's limits, so the page never allows less (or more) than the engine (an
                # API caller's value beyond them reaches the studio, which names it in their language).
                num_inference_steps = OpenSlider(1, MAX_STEPS, value=DEFAULTS.num_inference_steps, step=1,
                                                label=self.i18n("steps"))
                guidance_scale = OpenSlider(0, MAX_GUIDANCE, value=self.handlers.studio.default_guidance, step=0.5,
                                           label=self.i18n("guidance"))
            num_frames = OpenSlider(
                variant.min_frames if variant else 9, variant.max_frames if variant else 49,
                value=variant.num_frames if variant else 49, step=variant.frame_step if variant else 8,
                label=self.i18n("frames"), info=self.i18n(f"frames_info.{variant.task}") if variant else None,
            )
            model = "—" if variant is None else (
                f"{variant.name} · {variant.width}×{variant.height} · {variant.fps} fps"  # frames: the slider above
            )
            gr.Textbox(value=model, label=self.i18n("model"), interactive=False)
        lora_scales = self.lora_panel()
        return dict(lora_scales=lora_scales, style=style, music=music, music_volume=music_volume, music_file=music_file, speed=speed,
                    upscale=upscale, interpolate=interpolate, negative_prompt=negative_prompt, seed=seed,
                    num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                    num_frames=num_frames, randomize=randomize)

    def lora_panel(self) -> gr.components.Component:
        """A scale slider per LoRA loaded with the model (--lora); their values travel to the
        handler as one {name: scale} value, which API callers may pass too."""
        scales = gr.JSON(value={spec.name: spec.scale for spec in self.loras}, visible=False)
        if not self.loras:
            return scales
        with gr.Accordion(self.i18n("lora"), open=True):
            fixed = self.handlers.studio.lora_scales_fixed
            sliders = [gr.Slider(MIN_LORA_SCALE, MAX_LORA_SCALE, value=spec.scale, step=0.05, label=f"LoRA · {spec.name}",
                                 info=Path(spec.source).name, interactive=not fixed) for spec in self.loras]

        def collect(*values):
            return {spec.name: float(value) for spec, value in zip(self.loras, values)}

        for slider in sliders:
            self.private(slider.change, collect, sliders, scales)
        return scales

    def gif_panel(self, video, gif_api: bool) -> None:
        """Download the result as an animated GIF (表情包), its size shown."""
        with gr.Accordion(self.i18n("gif"), open=False):
            with gr.Row(equal_height=True):
                width = OpenRadio(list(GIF_WIDTHS), value=GIF_WIDTHS[0], label=self.i18n("gif_width"), scale=2)
                fps = OpenSlider(2, MAX_GIF_FPS, value=DEFAULT_GIF_FPS, step=1, label=self.i18n("gif_fps"), scale=2)
                make = gr.Button(self.i18n("gif_make"), size="sm", scale=1)
            with gr.Row(equal_height=True):
                gif_file = gr.File(label=self.i18n("gif_file"), interactive=False, height=90, scale=2)
                size = gr.Markdown(elem_classes="prompt-note")
        make.click(self.handlers.export_gif, [video, width, fps], [gif_file, size],
                   api_name="export_gif" if gif_api else None, api_visibility="public" if gif_api else "private",
                   concurrency_limit=2, concurrency_id="gif")

    def prompt_tools(self):
        """The live note, the Chinese gloss of an English suggestion, the agent buttons and the
        translate option, right under the prompt box."""
        note = gr.Markdown(elem_classes="prompt-note")
        gloss = gr.Markdown(elem_classes="prompt-note")
        with gr.Row():
            suggest = gr.Button(self.i18n("suggest"), size="sm", variant="secondary")
            restore = gr.Button(self.i18n("restore"), size="sm", variant="secondary")
        # A model that reads Chinese gets the prompt as typed: there is nothing to choose.
        translate = gr.Checkbox(value=True, label=self.i18n("translate"), visible=not self.reads_chinese)
        return note, gloss, suggest, restore, translate

    def wire_prompt_agent(self, spec: TabSpec, prompt, image, style, note, gloss, suggest, restore, template=None) -> None:
        """“Help me write one” streams into the box, then says in Chinese what it wrote; “Restore”
        brings back what the user typed."""
        original = gr.State("")
        task = gr.State(spec.task)
        self.private(prompt.change, self.handlers.prompt_note, [prompt, style, task], note, trigger_mode="always_last")
        self.private(style.change, self.handlers.prompt_note, [prompt, style, task], note)
        self.private(prompt.input, lambda: "", None, gloss)  # the user edits: the gloss no longer fits

        def stream(text, picture, style_id, template_id, request: gr.Request, progress=gr.Progress()):
            yield from self.handlers.suggest_stream(text, picture, spec.mode, style_id, request, progress,
                                               template=template_id)

        self.private(suggest.click, lambda text: (text, ""), prompt, [original, gloss]).then(
            stream, [prompt, image if image is not None else gr.State(None), style,
                     template if template is not None else gr.State(None)], prompt,
            api_visibility="private", concurrency_limit=4, concurrency_id="agent",
        ).then(self.handlers.gloss_note, [prompt, original], gloss, api_visibility="private",
                concurrency_limit=4, concurrency_id="agent")
        self.private(restore.click, lambda text, now: (text or now, ""), [original, prompt], [prompt, gloss])

    def generation_tab(self, spec: TabSpec, first: bool) -> tuple[dict[str, gr.components.Component], gr.Video, gr.Button]:
        """One generation tab: (its controls by handler parameter, its result video, its Extend button)."""
        variant = self.config.t2v if spec.task == "t2v" else self.config.i2v
        controls: dict[str, gr.components.Component] = {}
        unable = spec.mode in self.unable
        with gr.Tab(self.i18n(spec.title_key), id=spec.tab_id):
            if unable:  # the model cannot do this mode: the tab says why instead of offering a form
                gr.Markdown(self.i18n(f"unable.{spec.mode}"), elem_id=f"{spec.tab_id}-unable", elem_classes="unable-note")
            # Hidden, not left out: the named API keeps its endpoint (the studio refuses in the caller's
            # language) and the page's shared wiring (reattach, 做同款) keeps its parts.
            with gr.Row(visible=not unable):
                with gr.Column(scale=5):
                    image = None
                    if spec.image_key:
                        image = controls["image"] = self.picture_box(spec)
                    if spec.video_key:
                        image = gr.Video(label=self.i18n(spec.video_key), sources=["upload"], height=300,
                                         elem_id=f"{spec.tab_id}-source")
                        controls["video"] = image
                    if spec.mode == "v2v":
                        controls["strength"] = OpenSlider(MIN_STRENGTH, MAX_STRENGTH, value=DEFAULTS.strength, step=0.05,
                                                         label=self.i18n("strength"), info=self.i18n("strength_info"))
                    if spec.mode == "extend":
                        with gr.Row():
                            controls["extensions"] = OpenSlider(1, MAX_EXTENSIONS, value=DEFAULTS.extensions, step=1,
                                                               label=self.i18n("extensions"), info=self.i18n("extensions_info"))
                            controls["crossfade"] = gr.Checkbox(value=DEFAULTS.crossfade, label=self.i18n("crossfade"))
                    if spec.mode == "old_photo":
                        # Missing weights are said now, not after Generate: the box starts unticked and locked.
                        can_colorize = words.colorize_available(self.handlers.studio)
                        controls["colorize"] = gr.Checkbox(value=can_colorize, label=self.i18n("colorize"),
                                                           interactive=can_colorize, elem_id="old-colorize",
                                                           info=None if can_colorize else self.i18n("colorize_missing"))
                    template = None
                    if spec.mode == "i2v" and self.templates:
                        template = gr.Radio([(self.i18n(f"template.{t.id}"), t.id) for t in self.templates.values()], value=None,
                                            label=self.i18n("template"), info=self.i18n("template_info"),
                                            elem_id="i2v-templates")
                    placeholder = spec.placeholder_key + ("_any_language" if self.reads_chinese and spec.mode == "t2v" else "")
                    prompt = gr.Textbox(value="", label=self.i18n("prompt"), placeholder=self.i18n(placeholder),
                                        lines=spec.prompt_lines, max_lines=12, max_length=20_000,
                                        elem_classes="prompt-box")
                    controls["prompt"] = prompt
                    note, gloss, suggest, restore, controls["translate"] = self.prompt_tools()
                    if spec.mode in ASPECT_MODES:  # 画面比例, or why the model offers no choice
                        controls["aspect_ratio"] = aspect_control(variant, spec.task, spec.tab_id, self.i18n)
                    controls.update(self.settings(variant, spec.default_music))
                    if "variations" in inspect.signature(spec.handler).parameters:
                        controls["variations"] = many.control(self.i18n)
                    self.wire_prompt_agent(spec, prompt, image, controls["style"], note, gloss, suggest, restore, template)
                    if template is not None:
                        self.wire_templates(template, prompt, controls)
                    if self.handlers.service.quota.on:  # what is left today, read before the tap
                        self.free_notes.append(gr.Markdown(elem_classes="free-left", visible=False))
                    with gr.Row(elem_classes="generate-row"):
                        generate = gr.Button(self.i18n("generate"), variant="primary", elem_classes="generate-btn", scale=3)
                        cancel = gr.Button(self.i18n("cancel"), variant="stop", scale=1)
                    parts = live.tab_parts(spec.tab_id)  # a failure's reason stays here
                    # Where a phone's eyes are after tapping Generate: place in line, expected wait, time left.
                    wait_note = gr.Markdown(elem_classes="wait-note", elem_id=f"{spec.tab_id}-wait")
                    note_timer = gr.Timer(1.0, active=False)
                    # Inside the Tab: see `tab_bar` below for why nothing may sit beside the tabs.
                    mode = gr.State(spec.mode)
                    if spec.examples:
                        add_examples(self.demo_loads, spec.mode, [c for c in (image, prompt) if c is not None],
                                     self.i18n("examples"), self.config.lang)
                with gr.Column(scale=6):
                    video = gr.Video(label=self.i18n("result"), autoplay=True, loop=True, buttons=["download"],
                                     interactive=False, height=420, elem_id=f"{spec.tab_id}-result")
                    again_button, like_button = again.result_buttons(self.i18n, spec.tab_id)  # 再来一次 · 做同款
                    outputs = [video]
                    shelf = many.gallery(spec.tab_id, self.i18n) if "variations" in controls else None
                    if spec.mode == "old_photo":
                        still = gr.Image(label=self.i18n("colorized"), type="pil", interactive=False,
                                         buttons=["download"], height=240, format="png")
                        outputs.append(still)
                    used_seed = gr.Textbox(value="", label=self.i18n("used_seed"), interactive=False)
                    final_prompt = gr.Textbox(label=self.i18n("final_prompt"), lines=3, interactive=False)
                    # 换配乐 is kept in My works: a new work beside the original, or in its place. The
                    # choice sits above the button, so a phone shows it before the tap.
                    keep_music_as = gr.Radio([(self.i18n("keep_music_new"), "new"), (self.i18n("keep_music_replace"), "replace")],
                                             value="new", label=self.i18n("keep_music_as"),
                                             elem_id=f"{spec.tab_id}-keep-music")
                    with gr.Row():
                        apply_music = gr.Button(self.i18n("apply_music"), size="sm", elem_id=f"{spec.tab_id}-apply-music")
                        extend = gr.Button(self.i18n("extend_this"), size="sm", elem_id=f"{spec.tab_id}-extend",
                                           visible="extend" not in self.unable)
                    self.gif_panel(video, gif_api=first)
                    with gr.Accordion(self.i18n("details"), open=False):
                        # The endpoint's JSON stays the API's value; people read it as a table.
                        info = gr.JSON(label=self.i18n("details"), visible=False)
                        info_table = gr.Markdown(elem_classes="details-table")
                    self.private(info.change, self.details_table, info, info_table)
                    outputs.append(info)
                    api_trigger = gr.Button(visible=False)  # the named API's own event (see below)
        # What 复用设置 clears, so an old seed and prompt never sit beside new settings.
        self.result_parts[spec.mode] = [*outputs, used_seed, final_prompt]

        # The handler's parameter names pick its inputs, so the API and the widgets cannot drift apart.
        names = [p for p in inspect.signature(spec.handler).parameters if p not in ("request", "progress")]
        inputs = [controls[name] for name in names]
        # Generation runs as a job of the job service, which keeps the one line for the GPU: these
        # events only submit and follow (async, no thread held), so no Gradio concurrency limit.
        api_trigger.click(spec.handler, inputs, outputs, api_name=spec.api_name, concurrency_limit=None)
        # Every quick listener of Generate is declared before the generation event: Gradio 6.31's page
        # ran those declared after it only once the video was done (or not at all).
        # The wait note's timer.
        self.private(generate.click, self.handlers.note_start, mode, note_timer)
        if shelf is not None:  # 生成数量: the gallery of a run, the count offered (ui/variations.py)
            many.wire(self.handlers, self.demo_loads, controls["variations"], shelf, generate, info)
        # Its ticks also write the job's state on the button (ui/busy.py), after a reload too.
        busy.wire(self.handlers, mode, note_timer, wait_note, generate, self.i18n("generate"), parts.attach)
        # Where the finger is: the progress (on the result) comes on screen, and the button stays
        # disabled while this tab's job runs, so a second tap cannot silently make nothing. On a
        # phone the wait note and the bar come first: in line, the result shows a spinner only.
        self.private(generate.click, lambda *_: gr.update(interactive=False), None, generate,
                js=scroll_to(f"#{spec.tab_id}-result", phone=f"#{spec.tab_id}-wait"))
        # The page's own Generate shows a failure in the tab instead of raising (see ui/live.py);
        # the same outputs also follow the tab's job after a reload.
        followed = live.wire_generation(self.handlers, spec.mode, spec.handler, generate, inputs, outputs,
                                        parts, self.page, clears=[image, template])
        for event in followed:
            self.private(event.success, self.show_used, info, [used_seed, final_prompt])
            self.private(event.then, self.handlers.status_line, None, self.status)  # the queue counts changed
            self.private(event.then, lambda: gr.update(interactive=True, value=self.i18n("generate")), None, generate)  # see above
            if shelf is not None:  # the user's share of the line is back
                self.private(event.then, many.chooser(self.handlers), controls["variations"],
                        controls["variations"])
        self.live_tabs[spec.mode] = (controls, parts)
        self.again_tabs[spec.mode] = again.ResultTab(spec.mode, spec.tab_id, controls, parts, self.result_parts[spec.mode],
                                                note_timer, generate, again_button, like_button)
        again.wire_result(self.handlers, self.again_tabs[spec.mode], info, followed, self.page)
        # Queued so that its "Stopping…" toast reaches the page (toasts travel through the queue).
        cancel.click(self.handlers.cancel, mode, None, api_visibility="private", concurrency_limit=None)
        # The named API's change_music stays a download (its own event); the page's button keeps the
        # swap as a work of the job its result's details name.
        if first:
            api_trigger.click(
                self.handlers.change_music, [video, controls["music"], controls["music_volume"], controls["music_file"]],
                video, api_name="change_music", concurrency_limit=2, concurrency_id="music",
            )
        apply_music.click(
            self.handlers.keep_music, [info, controls["music"], controls["music_volume"], controls["music_file"],
                                  keep_music_as],
            [video, info], api_visibility="private", concurrency_limit=2, concurrency_id="music",
        )
        return controls, video, extend

    def wire_templates(self, template: gr.Radio, prompt, controls) -> None:
        """Picking a template fills the prompt (what the user typed becomes its subject), style,
        music, frames and guidance."""
        def fill(template_id, text, request: gr.Request):
            if template_id not in self.templates:
                return [gr.skip()] * 5
            values = self.handlers.apply_template(template_id, text, request)
            # A template without a length sets the model's default back.
            return (values["prompt"], values["style"], values["music"], values.get("num_frames", gr.skip()),
                    values["guidance_scale"])

        self.private(template.input, fill, [template, prompt],
                [prompt, controls["style"], controls["music"], controls["num_frames"], controls["guidance_scale"]])

    def specs(self) -> list[TabSpec]:
        """The five generation tabs, in their order on the page."""
        return [
            TabSpec("tab_t2v", "t2v", "t2v", self.handlers.text_to_video, "text_to_video", "prompt_placeholder",
                    T2V_EXAMPLES, prompt_lines=5),
            TabSpec("tab_i2v", "i2v", "i2v", self.handlers.image_to_video, "image_to_video", "i2v_prompt_placeholder",
                    I2V_EXAMPLES, image_key="first_frame"),
            TabSpec("tab_old", "old_photo", "old_photo", self.handlers.old_photo, "old_photo", "old_prompt_placeholder",
                    OLD_EXAMPLES, image_key="old_image",
                    default_music=OLD_PHOTO_MUSIC if OLD_PHOTO_MUSIC in self.tracks else "none"),
            TabSpec("tab_v2v", "v2v", "v2v", self.handlers.video_to_video, "video_to_video", "v2v_prompt_placeholder",
                    [], video_key="restyle_source"),
            TabSpec("tab_extend", "extend", "extend", self.handlers.extend_video, "extend_video", "extend_prompt_placeholder",
                    [], video_key="extend_source"),
        ]

    def works_tab(self, tab_controls: dict[str, dict[str, gr.components.Component]], tabs: gr.Tabs):
        """我的作品: the user's jobs as covers; open one to play, reuse, extend, cancel or delete it.
        Returns (its Extend button, its video), wired by the caller."""
        with gr.Tab(self.i18n("tab_works"), id="works") as tab:
            with gr.Row(equal_height=True):
                header = gr.Markdown(elem_classes="works-header")
                refresh = gr.Button(self.i18n("refresh"), size="sm", scale=0, min_width=120)
            # 兑换码: a pass from a code (jobs/codes.py), for signed-in users only: shown when the tab opens.
            with gr.Accordion(self.i18n("redeem"), open=False, visible=False, elem_id="works-redeem") as redeem_box:
                with gr.Row(equal_height=True):
                    code = gr.Textbox(label=self.i18n("redeem_code"), placeholder="XXXX-XXXX-XXXX-XXXX", max_lines=1,
                                      scale=3, elem_id="redeem-code")
                    redeem = gr.Button(self.i18n("redeem_button"), variant="primary", scale=1, min_width=100)
                redeemed = gr.Markdown(elem_id="redeemed")
            with gr.Row():
                with gr.Column(scale=3):
                    # fit_columns=False: one or two works would otherwise fill the width, and their
                    # square covers push the caption (status · date · prompt) below the gallery's height.
                    gallery = gr.Gallery(label=self.i18n("tab_works"), columns=4, height=620, allow_preview=False,
                                         object_fit="cover", show_label=False, elem_id="works-gallery",
                                         fit_columns=False)
                with gr.Column(scale=2):
                    video = gr.Video(label=self.i18n("result"), interactive=False, autoplay=True, loop=True,
                                     buttons=["download"], height=300, elem_id="works-player")
                    card = gr.Markdown(elem_id="work-details")
                    with gr.Row():
                        reuse = gr.Button(self.i18n("reuse"), variant="primary", interactive=False)  # 做同款
                        again_work = gr.Button(self.i18n("again"), interactive=False, elem_id="works-again")
                        extend = gr.Button(self.i18n("extend_this"), interactive=False, elem_id="works-extend",
                                           visible="extend" not in self.unable)
                        stop = gr.Button(self.i18n("cancel"), interactive=False)
                        delete = gr.Button(self.i18n("delete"), variant="stop", interactive=False)
                    # 换配乐 on an opened work, kept as the generation tabs keep it.
                    with gr.Accordion(self.i18n("apply_music"), open=False, elem_id="works-music"):
                        work_music = gr.Dropdown(self.track_choices, value="none", label=self.i18n("music"))
                        work_keep_as = gr.Radio([(self.i18n("keep_music_new"), "new"),
                                                 (self.i18n("keep_music_replace"), "replace")],
                                                value="new", label=self.i18n("keep_music_as"))
                        work_swap = gr.Button(self.i18n("apply_music"), size="sm", elem_id="works-apply-music")
            ids = gr.State([])  # inside the Tab, like every component under `tab_bar` (see there)
            selected = gr.State("")
            # 🗑 asks first: the first click arms it for the opened work (the button says 确定删除？),
            # a second click within DELETE_CONFIRM_S deletes; the timer puts the button back.
            armed = gr.State("")
            disarm_timer = gr.Timer(DELETE_CONFIRM_S, active=False)

        def show_works(request: gr.Request):
            return self.handlers.works_gallery(request)

        def open_work(job_ids, evt: gr.SelectData, request: gr.Request):
            if evt.index is None or evt.index >= len(job_ids):
                return "", None, "", *[gr.update(interactive=False)] * 4
            job_id = job_ids[evt.index]
            video_file, text, job = self.handlers.open_work(job_id, request)
            return (job_id, video_file, text, gr.update(interactive=True), gr.update(interactive=video_file is not None),
                    gr.update(interactive=not job.finished), gr.update(interactive=True))

        def reuse_work(job_id, request: gr.Request):
            if not job_id:
                return {}
            values = self.handlers.like_values(job_id, request)  # 做同款: the settings, a random seed
            mode = values["mode"]
            controls = tab_controls[mode]
            updates = {tabs: gr.Tabs(selected=mode)}
            updates.update(cleared_result(self.result_parts[mode]))
            for name, control in controls.items():
                if name == "randomize":
                    updates[control] = values.get("seed", -1) == -1
                elif name == "seed":
                    updates[control] = gr.update(value=values.get("seed", -1), interactive=values.get("seed", -1) != -1)
                elif name == "num_frames" and values.get("num_frames") is None:
                    continue  # the variant's default, which the slider already shows
                elif name in values:
                    updates[control] = values[name]
            return updates

        def delete_work(job_id, armed_id, request: gr.Request):
            if not job_id:
                return {}
            if armed_id != job_id:
                return {armed: job_id, delete: gr.Button(value=self.i18n("delete_confirm")),
                        disarm_timer: gr.Timer(active=True)}
            self.handlers.delete_work(job_id, request)
            items, job_ids, text = self.handlers.works_gallery(request)
            # selected_index=None: Gradio would otherwise outline the card that slid into its place.
            return {selected: "", video: None, card: "", **{b: gr.update(interactive=False) for b in buttons},
                    gallery: gr.Gallery(value=items, selected_index=None), ids: job_ids, header: text,
                    **disarmed(), delete: gr.Button(value=self.i18n("delete"), interactive=False)}

        def disarmed():
            return {armed: "", delete: gr.Button(value=self.i18n("delete")), disarm_timer: gr.Timer(active=False)}

        def swap_work_music(job_id, music, keep, request: gr.Request):
            if not job_id:
                raise words.error(Text("Open a finished work first, then change its music.",
                                       "请先打开一个已完成的作品，再更换配乐。"), self.handlers.lang(request))
            video_file, info = self.handlers.keep_music({"job_id": job_id}, music, DEFAULTS.music_volume, None, keep, request)
            kept = info["job_id"]
            items, job_ids, text = self.handlers.works_gallery(request)
            _, card_text, _ = self.handlers.open_work(kept, request)
            index = job_ids.index(kept) if kept in job_ids else None
            return {selected: kept, video: video_file, card: card_text, ids: job_ids, header: text,
                    gallery: gr.Gallery(value=items, selected_index=index), **disarmed()}

        def cancel_work(job_id, request: gr.Request):
            if not job_id:
                return gr.skip(), gr.skip()
            self.handlers.cancel_job(job_id, request)
            _, text, job = self.handlers.open_work(job_id, request)
            return text, gr.update(interactive=not job.finished)

        def show_redeem(request: gr.Request):
            return gr.Accordion(visible=self.handlers.signed_in(request))

        def redeem_code(text, request: gr.Request):
            return self.handlers.redeem(text, request), ""

        listing = [gallery, ids, header]
        buttons = [reuse, extend, stop, delete]
        for opened in (tab.select, refresh.click):
            self.private(opened, show_works, None, listing).then(self.handlers.status_line, None, self.status, queue=False,
                                                           api_visibility="private")
            self.private(opened, show_redeem, None, redeem_box)
        for redeeming in (redeem.click, code.submit):  # queued: its toasts reach the page only through the queue
            redeemed_now = redeeming(redeem_code, code, [redeemed, code], api_visibility="private",
                                     concurrency_limit=None)
            redeemed_now.success(self.handlers.status_line, None, self.status, queue=False, api_visibility="private")
            redeemed_now.success(show_works, None, listing, queue=False, api_visibility="private")  # its lane too
        self.private(gallery.select, None, None, None, js=scroll_to("#works-player"))  # a phone stacks it below
        self.private(gallery.select, open_work, ids, [selected, video, card, *buttons])
        reuse_outputs = [tabs] + [c for controls in tab_controls.values() for c in controls.values()]
        reuse_outputs += [c for parts in self.result_parts.values() for c in parts]
        self.private(reuse.click, reuse_work, selected, reuse_outputs).then(
            None, None, None, js=scroll_to_prompt(), queue=False, api_visibility="private")
        # Queued, unlike the other works events: gr.Info("Deleted.") reaches the page only through the queue.
        delete.click(delete_work, [selected, armed], [selected, video, card, *buttons, *listing, armed, disarm_timer],
                     api_visibility="private", concurrency_limit=None)
        self.private(disarm_timer.tick, disarmed, None, [armed, delete, disarm_timer])
        self.private(gallery.select, disarmed, None, [armed, delete, disarm_timer])
        self.private(stop.click, cancel_work, selected, [card, stop])
        again.wire_works(self.handlers, again_work, selected, card, tabs, self.again_tabs, self.page)
        work_swap.click(swap_work_music, [selected, work_music, work_keep_as],
                        [selected, video, card, *listing, armed, delete, disarm_timer], api_visibility="private",
                        concurrency_limit=2, concurrency_id="music")
        return extend, video, live.WorksParts(gallery, ids, header, selected, card, video, buttons)

    def build(self) -> gr.Blocks:
        # Gradio's own copies of uploads and results: checked hourly, removed after a day.
        with gr.Blocks(title="CogVideoX Studio", delete_cache=(3600, 86400)) as demo:
            gr.Markdown(self.i18n("header"))
            self.status = gr.Markdown(elem_id="studio-status")
            api_links(self.i18n)
            self.private(demo.load, self.handlers.status_line, None, self.status)
            self.page = live.page_parts()  # the header and My works keep up while jobs wait or render
            self.private(demo.load, None, None, None, js=words.page_script(self.config.lang))  # Gradio's own English words
            # Only gr.Tab may be a direct child of gr.Tabs, even an invisible gr.State. Gradio's frontend
            # lists the tab labels from the Tab children alone but registers each Tab, when first shown,
            # at its index among *all* children: a State between two tabs shifts the later ones, so a
            # click overwrote the next tab's label (老照片 became 图生视频) or added a fifth tab.
            with gr.Tabs(overflow_behavior="wrap") as tab_bar:  # no tab hides behind "⋯" on a phone
                built = {spec.mode: self.generation_tab(spec, first=index == 0) for index, spec in enumerate(self.specs())}
                tab_controls = {mode: controls for mode, (controls, _, _) in built.items()}
                works_extend = self.works_tab(tab_controls, tab_bar)
                admin_tab(self.handlers, self.i18n, demo)  # shown to admins only (ui/admin.py)
            live.wire_reattach(demo, self.handlers, self.live_tabs, self.page, tab_bar)
            live.wire_refresh(self.handlers, self.page, self.status, works_extend[2])
            self.wire_free_notes(demo)

            # "Extend" under every result (and on an opened work): the video goes to the Extend tab.
            def to_extend(video_file):
                if not video_file:
                    return gr.skip(), gr.skip()
                return video_file, gr.Tabs(selected="extend")

            extend_source = tab_controls["extend"]["video"]
            for _, result, extend in built.values():
                self.private(extend.click, to_extend, result, [extend_source, tab_bar])
            self.private(works_extend[0].click, to_extend, works_extend[1], [extend_source, tab_bar])

            for load_fn, load_outputs in self.demo_loads:
                self.private(demo.load, load_fn, None, load_outputs)

            # Named API endpoints with no widgets of their own: the prompt agent (one finished
            # suggestion, no streaming) and the job service's views.
            with gr.Column(visible=False):
                api_inputs = [
                    gr.Textbox(value=""),
                    UploadedImage(type="filepath", value=None),
                    OpenDropdown(["t2v", "i2v", "old_photo"], value="t2v"),
                    OpenDropdown([s.id for s in self.styles.values()], value="none"),
                    OpenDropdown([""] + list(self.templates), value=""),
                ]
                template_inputs = [gr.Textbox(value=""), gr.Textbox(value="")]
                template_json = gr.JSON()
                api_text = gr.Textbox()
                api_button = gr.Button()
                job_id = gr.Textbox(value="")
                job_json = gr.JSON()
                works_json = gr.JSON()
            api_button.click(self.handlers.suggest_prompt, api_inputs, api_text, api_name="suggest_prompt",
                             concurrency_limit=4, concurrency_id="agent")
            api_button.click(self.handlers.apply_template, template_inputs, template_json, api_name="apply_template",
                             queue=False)
            api_button.click(self.handlers.my_works, None, works_json, api_name="my_works",
                             concurrency_limit=None)
            api_button.click(self.handlers.job_status, job_id, job_json, api_name="job_status",
                             concurrency_limit=None)
            api_button.click(self.handlers.cancel_job, job_id, job_json, api_name="cancel_job",
                             concurrency_limit=None)

        demo.i18n_table = self.i18n
        translate_api_labels(demo, self.i18n)
        return demo
