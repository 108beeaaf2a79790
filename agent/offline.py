"""The offline prompt expander: keeps "Help me write one" useful when no language model answers.

It cannot understand or translate text, so it weaves the user's English words into sentences about
camera, light, motion and mood, picked by a seeded random generator (same seed, same prompt).
For a video model that reads Chinese (Wan), Chinese words are woven into Chinese sentences the same
way; for CogVideoX, non-English text is kept as it is, with a notice that says how to connect a model. An intent (what
the video is for: a meme, an ad, a greeting, ...) picks motion, camera and mood sentences written
for that kind of video; an intent of no known kind lends its first sentence to the prompt.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bilingual import Text

from .clean import is_english, trim_to_budget
from .images import ImageFacts, describe
from .instructions import Instructions
from .suggestion import Suggestion

if TYPE_CHECKING:
    from .backends import Progress, Request

# A user text up to this many words reads as the subject of our first sentence; longer text
# (a sentence or a paragraph) stands on its own and we only add to it.
_SUBJECT_MAX_WORDS = 25

_SHOTS = (
    "A cinematic medium shot",
    "A cinematic close-up",
    "A wide, cinematic establishing shot",
    "A slow-motion medium close-up",
    "A cinematic eye-level shot",
    "A detailed, cinematic shot",
)
_SETTINGS = (
    "set against a softly blurred background that gives the scene depth",
    "in a setting full of small, believable details",
    "framed by layered foreground and background elements",
    "in a place that feels lived-in and real",
    "with the surroundings opening up gently behind the subject",
)
_DETAILS = (
    "Every detail is crisp and tactile, from the textures of surfaces to the small natural "
    "movements that keep the moment alive.",
    "Subtle motion runs through the frame: a breath of wind, particles drifting in the air, the "
    "gentle sway of the background.",
    "The main subject moves naturally and continuously, with realistic weight and timing, while "
    "the background stays alive with small movements.",
    "Small, lifelike gestures and a steady rhythm of movement give the moment a sense of story.",
)
_LIGHTS = (
    "Warm golden-hour sunlight slants in from the side, casting long soft shadows and a gentle "
    "rim light around the subject.",
    "Soft, diffused overcast light wraps evenly around every form, with muted highlights and "
    "gentle contrast.",
    "Cool blue-hour light mixes with warm glowing lamps, giving the image a rich contrast of "
    "colors.",
    "Bright morning light pours in, clean and fresh, with crisp shadows and clear colors.",
    "Low-key lighting carves the subject out of the darkness, with a single soft key light and "
    "deep, velvety shadows.",
)
_CAMERAS = (
    "The camera slowly dollies in, keeping the subject sharp against a shallow depth of field.",
    "A smooth tracking shot follows the movement at eye level, steady and fluid.",
    "The camera glides in a slow half-orbit around the subject, revealing the space around it.",
    "A gentle handheld camera stays close, with a slight natural sway that feels intimate.",
    "The camera starts wide and slowly cranes down toward the subject.",
)
_MOODS = (
    "The mood is calm and contemplative, like a quiet moment caught by chance.",
    "The atmosphere is warm and joyful, full of life and gentle energy.",
    "The feeling is nostalgic and dreamlike, softly glowing.",
    "The mood is dramatic and cinematic, charged with quiet tension.",
    "The atmosphere is cozy and intimate, inviting the viewer closer.",
)
# Photographic finishes contradict a style preset (a "3D cartoon" shot on 35 mm film), so they are
# used only when no style is chosen.
_FINISHES_PHOTO = (
    "Shot on 35mm film with fine grain, highly detailed, with smooth and natural motion.",
    "Photorealistic and highly detailed, with realistic textures and smooth motion in one "
    "continuous shot.",
)
_FINISHES_NEUTRAL = (
    "High detail and smooth, natural motion throughout one continuous shot.",
    "Rich detail, clean composition and fluid motion from the first frame to the last.",
)

_I2V_MOTIONS = (
    "Everything in the picture comes gently to life: people breathe and blink, hair and clothing "
    "stir in a light breeze, leaves sway, and light shifts softly across surfaces.",
    "Subtle, natural motion spreads through the scene: water ripples, clouds drift slowly, and "
    "small details move with the air while the subjects shift and breathe.",
    "The still moment starts to move with quiet realism: a soft breeze, drifting light, and small, "
    "lifelike movements of everyone and everything in the frame.",
)
_I2V_CAMERAS = (
    "The camera holds the original framing and slowly pushes in.",
    "A slight parallax drift of the camera adds depth while the composition stays the same.",
    "The camera stays almost still, with a barely noticeable, steady push-in.",
)
_I2V_CONTINUITY = (
    "One continuous shot with no cuts; subjects, colors and lighting stay faithful to the "
    "original picture.",
    "No scene changes: the picture's subjects, colors and light stay true to the first frame "
    "while it moves.",
)
_OLD_PHOTO_MOTIONS = (
    "The people in it come gently to life: they blink, breathe and share small, warm smiles, "
    "heads turn slightly, and a soft breeze stirs hair and clothing.",
    "Slowly the family in the picture starts to move: a faint smile spreads, eyes blink, someone "
    "leans a little closer to the others, and fabric sways softly.",
)
_OLD_PHOTO_CAMERAS = (
    "The camera pushes in very slowly, steady and respectful, with no cuts.",
    "The camera stays still and calm in one continuous shot, as if looking at the photo on a table.",
)
_OLD_PHOTO_MOODS = (
    "Faces, clothing and period details stay true to the photograph. The mood is tender and "
    "nostalgic, like a cherished memory returning for a moment, with soft natural light and a "
    "subtle film texture.",
    "Every face and period detail is kept as in the photograph. Soft, natural light and a gentle "
    "film grain give it a warm, nostalgic feeling of family and home.",
)
_TONE_MOODS = {
    "warm": "The mood is warm and inviting.",
    "cool": "The mood is calm and serene.",
    "neutral": "The mood is quiet and natural.",
}

# The same kinds of sentences in Chinese, for a model that reads Chinese (Wan's umT5) when the user
# wrote in Chinese or left the box empty on a Chinese page: what they typed stays word for word and
# the sentences around it add shot, light, camera and mood, as the English ones do.
_ZH_SHOTS = ("电影感中景镜头：", "电影感特写镜头：", "电影感大全景：", "慢动作中近景：", "平视视角的电影感镜头：")
_ZH_SETTINGS = ("背景柔和虚化，画面层次分明。", "周围是许多真实可信的小细节。", "前景与背景层层叠叠，富有纵深。",
                "场景充满生活气息，真实自然。")
_ZH_DETAILS = ("主体的动作自然连贯，有真实的重量和节奏，背景也有细微的动态。",
               "画面中处处有细微的动态：一阵微风，空气中漂浮的微粒，背景轻轻摇曳。",
               "细节清晰而有质感，从物体表面的纹理到让画面鲜活的细小动作。")
_ZH_LIGHTS = ("金色的夕阳从侧面斜照进来，投下柔长的影子，主体边缘泛着温暖的轮廓光。",
              "阴天柔和的散射光均匀地包裹着画面，高光柔和，对比温和。",
              "清晨明亮的阳光洒进来，清新干净，阴影清晰，色彩明快。",
              "蓝调时刻的冷光与温暖的灯光交织，色彩对比丰富。")
_ZH_CAMERAS = ("镜头缓缓推近，主体清晰，浅景深。", "镜头在平视高度平稳跟拍，流畅自然。",
               "镜头围绕主体缓慢环绕半圈，展现周围的空间。", "镜头从全景缓缓下降，靠近主体。")
_ZH_MOODS = ("氛围宁静而悠远，像一个偶然捕捉到的安静瞬间。", "氛围温暖欢快，充满生机。",
             "怀旧如梦，带着柔和的光晕。", "氛围温馨亲密，让人想走近一些。")
_ZH_FINISHES_PHOTO = ("35 毫米胶片质感，细腻颗粒，细节丰富，动作流畅自然。", "写实风格，细节丰富，质感真实，一镜到底，动作流畅。")
_ZH_FINISHES_NEUTRAL = ("细节丰富，一镜到底，动作流畅自然。", "构图干净，细节丰富，从第一帧到最后一帧动作流畅。")
_ZH_I2V_MOTIONS = ("画面中的一切轻轻动了起来：人物呼吸、眨眼，头发和衣物在微风中轻拂，树叶摇曳，光影在表面缓缓移动。",
                   "细微自然的动态在画面中蔓延：水面泛起涟漪，云朵缓缓飘过，人物轻轻移动、呼吸。")
_ZH_I2V_CAMERAS = ("镜头保持原有构图，缓缓推近。", "镜头几乎静止，只有难以察觉的平稳推近。", "镜头轻微视差移动，增加纵深，构图不变。")
_ZH_I2V_CONTINUITY = ("一镜到底，没有剪辑；人物、色彩和光线与原图保持一致。", "没有场景切换：画面中的人物、色彩和光线始终忠于第一帧。")
_ZH_OLD_PHOTO_MOTIONS = ("照片中的人物轻轻活了过来：眨眼、呼吸，露出温暖的微笑，头微微转动，微风拂动头发和衣角。",
                         "照片里的一家人慢慢动了起来：嘴角浮现笑意，眼睛眨动，有人向旁边的人靠近了一点，衣料轻轻摆动。")
_ZH_OLD_PHOTO_CAMERAS = ("镜头极其缓慢地推近，平稳而庄重，没有剪辑。", "镜头静止，一镜到底，就像看着桌上的一张老照片。")
_ZH_OLD_PHOTO_MOODS = ("面容、衣着和年代细节都与照片一致。温柔怀旧的氛围，像珍贵的回忆短暂归来，光线柔和自然，带有淡淡的胶片质感。",
                       "每一张面孔和年代细节都保持照片原样。柔和的自然光和细腻的胶片颗粒，带来家的温暖与怀旧。")
_ZH_PICTURE = {  # ImageFacts' words (agent/images.py) in Chinese
    "landscape": "横幅", "portrait": "竖幅", "square": "方形",
    "dark": "偏暗的", "dim": "光线昏暗的", "bright": "明亮的", "softly lit": "光线柔和的",
    "warm": "暖色调", "cool": "冷色调", "neutral": "中性色调",
    "black-and-white": "黑白", "muted": "色彩淡雅", "vivid": "色彩鲜艳", "natural": "色彩自然",
}



@dataclass(frozen=True)
class _Purpose:
    """A kind of video an intent can name, and sentences written for it. `motions` say "the main
    subject" so they fit both a picture (I2V) and the user's idea (T2V)."""

    name: str
    pattern: re.Pattern[str]  # searched in the lower-cased intent
    motions: tuple[str, ...]
    cameras: tuple[str, ...]
    moods: tuple[str, ...]


# First match wins, so the narrower kinds come first (a meme of a cat is a meme, a birthday
# greeting with a product in it is a greeting).
_PURPOSES = (
    _Purpose(
        "meme",
        re.compile(r"\b(memes?|stickers?|gifs?)\b|表情包|梗图"),
        (
            "The main subject pulls one big, exaggerated reaction: the eyes go wide, the eyebrows "
            "shoot up and the mouth drops open in comic disbelief, before it eases back toward the "
            "opening pose.",
            "In one punchy beat the main subject does a comic double take, freezes for a split "
            "second with a wide-eyed stare, then breaks into a slow, smug grin.",
        ),
        (
            "The camera holds a still, tight close-up, then punches in slightly at the peak of the "
            "reaction.",
            "A static close-up keeps the face large, sharp and centered against a plain background.",
        ),
        (
            "The timing is snappy and comic, and the motion settles back so the clip loops cleanly.",
            "The mood is playful and over the top, made to be replayed as a loop.",
        ),
    ),
    _Purpose(
        "greeting",
        re.compile(r"\b(greetings?|holidays?|festivals?|new year|birthdays?|celebrations?)\b|祝福|节日|春节|生日"),
        (
            "The main subject turns toward the viewer with a bright smile and a cheerful wave, while "
            "red lanterns sway and soft confetti drifts down through twinkling warm lights.",
            "Festive touches come alive around the main subject: golden fireworks bloom in the sky, "
            "lanterns glow and sway, and petals drift gently down as it greets the viewer warmly.",
        ),
        (
            "The camera pushes in slowly and steadily.",
            "The camera holds a steady medium shot with a gentle push-in.",
        ),
        (
            "Glowing warm light and rich festive reds and golds make it joyful and heart-warming.",
            "The mood is joyful, warm and celebratory.",
        ),
    ),
    _Purpose(
        "pet",
        re.compile(r"\b(pets?|cats?|dogs?|kittens?|puppies|puppy|animals?)\b|萌宠|宠物|猫|狗"),
        (
            "The animal blinks, tilts its head with curiosity, perks its ears and sniffs toward the "
            "camera, moving with natural animal weight and timing.",
            "The pet yawns, stretches and wags its tail, then looks up with bright eyes, every "
            "movement natural and unmistakably animal.",
        ),
        (
            "The camera stays at the animal's eye level with a gentle push-in toward its face.",
            "A steady, low camera at the animal's height eases in slowly.",
        ),
        (
            "Soft warm light and a shallow depth of field make it cozy and heart-warming.",
            "The mood is sweet, playful and adorable.",
        ),
    ),
    _Purpose(
        "scenic",
        re.compile(r"\b(time-?lapses?|landscapes?|scenery|scenic|cityscapes?)\b|延时|风景|风光"),
        (
            "Time speeds up: clouds stream across the sky, their shadows race over the land, and "
            "the light shifts from one hour to the next while the landscape itself stays perfectly "
            "still.",
            "In a fast time-lapse, clouds roll and dissolve, any water smooths into silky streaks, "
            "and the light sweeps slowly across the scene.",
        ),
        (
            "The camera stays locked off, wide and perfectly steady.",
            "The camera makes one slow, steady pan across the wide view.",
        ),
        (
            "The mood is grand and peaceful, with rich natural colors.",
            "The feeling is vast and calm, with crisp detail all the way to the horizon.",
        ),
    ),
    _Purpose(
        "commercial",
        re.compile(r"\b(ads?|adverts?|advertising|advertisements?|commercials?|products?|brands?|"
                   r"e-?commerce|shops?)\b|广告|产品|电商"),
        (
            "The product or hero stays the clear focus, every detail, color and label crisp and "
            "true, while soft highlights sweep across its surfaces and fine particles drift through "
            "the air.",
            "Light glides slowly over the main subject, revealing its shape, materials and fine "
            "details, with a few tasteful accents of motion around it.",
        ),
        (
            "The camera glides in a slow, smooth arc toward it.",
            "The camera rises slowly in a smooth reveal, then eases in toward the details.",
        ),
        (
            "Premium lighting with a gentle rim light and rich, true colors gives it a polished, "
            "aspirational feel.",
            "The look is clean, glossy and high-end, like a premium commercial.",
        ),
    ),
    _Purpose(
        "story",
        re.compile(r"\b(story|stories|narrative|plot|storytelling)\b|剧情|故事"),
        (
            "The main character pauses, senses something just off screen and slowly turns toward "
            "it, the expression shifting from calm to quiet resolve.",
            "The main character looks up, takes a breath and steps forward with purpose, the "
            "emotion showing in the face and the body.",
        ),
        (
            "The camera pushes in slowly from a medium shot to a close-up of the face.",
            "A smooth tracking shot follows the action at eye level, steady and deliberate.",
        ),
        (
            "Motivated, moody light and drifting atmosphere give the moment tension, like a scene "
            "from a film.",
            "The mood is dramatic and cinematic, with deep shadows and a sense of what comes next.",
        ),
    ),
    _Purpose(
        "social",
        re.compile(r"\b(social|douyin|tiktok|kuaishou|xiaohongshu|reels?|short videos?|vlogs?)\b"
                   r"|短视频|抖音|快手|小红书"),
        (
            "The main subject moves with energy from the very first frame: a playful turn toward "
            "the camera, a confident gesture, hair and clothing swinging with the motion.",
            "Lively, eye-catching motion fills the frame from the first second, the main subject "
            "upbeat and expressive while the scene around it comes alive.",
        ),
        (
            "The camera swoops in with a quick, smooth push-in, keeping the subject centered.",
            "A short, smooth orbit around the subject adds energy while it stays in the middle of "
            "the frame.",
        ),
        (
            "Bright, vivid light and saturated colors give it an upbeat, feel-good vibe.",
            "The feel is fresh, trendy and full of energy.",
        ),
    ),
)
# An intent of no known kind adds its first sentence to the prompt, if it is this short.
_INTENT_NOTE_MAX_WORDS = 30

_DETERMINERS = {
    "a", "an", "the", "this", "that", "these", "those", "two", "three", "some", "many", "my",
    "our", "his", "her", "their", "one", "several",
}  # fmt: skip


def expand(
    text: str,
    mode: str,
    *,
    seed: int,
    style: str | None = None,
    facts: ImageFacts | None = None,
    ideas: Sequence[str] = (),
    intent: str | None = None,
    language: str = "en",
) -> Suggestion:
    """Write a prompt from `text` without a language model: in English, or in Chinese where the
    agent writes Chinese for a model that reads it (`language` "zh"; `ideas` then Chinese too).

    mode: "t2v", "i2v" or "old_photo". facts: what we computed from the picture (I2V), if any.
    ideas: scene ideas to draw from when `text` is empty in T2V. Non-English text is kept.
    intent: what the video is for (a template's intent); it shapes T2V and I2V prompts, while old
    photos keep their own calm, respectful motion.
    """
    text = " ".join(text.split())
    if language == "zh":  # a model that reads Chinese, and Chinese typed (or a Chinese page's empty box)
        rng = random.Random(seed)
        return Suggestion(text=_in_chinese(text, mode, style, facts, ideas, rng), source="offline")
    if text and not is_english(text):
        return Suggestion(text=text, source="kept", warning=offline_translation_notice())

    rng = random.Random(seed)
    purpose = _find_purpose(intent)
    note = _intent_note(intent) if purpose is None else None
    if mode == "t2v":
        subject = text or (rng.choice(ideas) if ideas else "a quiet street at dawn")
        prompt = _t2v(subject, style, rng, purpose, note)
    elif mode == "old_photo":
        prompt = _old_photo(text, facts, rng)
    else:
        prompt = _i2v(text, style, facts, rng, purpose, note)
    return Suggestion(text=trim_to_budget(prompt), source="offline")


class TemplateBackend:
    """The `Backend` with no language model: the answer when none is configured, and the next in
    line when one fails. It cannot translate or gloss."""

    name = "templates"

    def __init__(self, instructions: Instructions):
        self._ideas = instructions.ideas
        self._ideas_zh = instructions.ideas_zh
        self._rng = random.Random()

    @property
    def label(self) -> Text:
        return Text("offline templates", "离线模板")

    def cannot_translate(self) -> Text | None:
        return offline_translation_notice()

    def suggest(self, request: Request, progress: Progress | None) -> Suggestion:
        return expand(
            request.text,
            request.mode,
            seed=self._rng.randrange(2**32),
            style=request.style,
            facts=describe(request.image) if request.image is not None else None,
            ideas=self._ideas_zh if request.language == "zh" else self._ideas,
            intent=request.intent,
            language=request.language,
        )

    def stream(self, request: Request, progress: Progress | None) -> Iterator[Suggestion]:
        yield self.suggest(request, progress)

    def translate(self, text: str, progress: Progress | None) -> Suggestion:
        return Suggestion(text=text, source="kept", warning=offline_translation_notice())

    def gloss(self, text: str, progress: Progress | None) -> str | None:
        return None


def offline_translation_notice() -> Text:
    """Only the templates answer, and they cannot translate; how to get a model that can."""
    return Text(
        "The prompt helper has only its offline templates, so it cannot translate your text, and "
        "CogVideoX reads English only. Write the prompt in English, or give the helper a language "
        "model: run `python -m cogvideo download agent` for the local one (Qwen3-VL-2B, ~4.3 GB; "
        "with PROMPT_AGENT_BACKEND unset or `local`), or set OPENAI_API_KEY (plus OPENAI_BASE_URL for "
        "Zhipu GLM, DeepSeek, Qwen, Ollama or vLLM, and PROMPT_AGENT_MODEL for the model name). "
        "Then restart the app.",
        "提示词助手只有离线模板，无法翻译你的文字，而 CogVideoX 只能读懂英文。请用英文书写提示词，"
        "或为助手接入语言模型：运行 `python -m cogvideo download agent` 下载本地模型（Qwen3-VL-2B，"
        "约 4.3 GB；PROMPT_AGENT_BACKEND 不设或设为 `local`），或设置 OPENAI_API_KEY（使用智谱 GLM、"
        "DeepSeek、通义千问、Ollama 或 vLLM 时再设置 OPENAI_BASE_URL，并用 PROMPT_AGENT_MODEL "
        "指定模型名）。然后重启应用。",
    )


def _in_chinese(text: str, mode: str, style: str | None, facts: ImageFacts | None, ideas: Sequence[str],
                rng: random.Random) -> str:
    """A Chinese prompt around the user's Chinese words, kept as typed. A template's intent is
    English and names motions of its own: here it is not woven in (the language models do that)."""
    text = text.rstrip("。.！!？? ")
    style_words = f"画面呈现{style}风格。" if style else ""
    if mode == "t2v":
        subject = text or (rng.choice(ideas) if ideas else "清晨安静的街道")
        finish = rng.choice(_ZH_FINISHES_NEUTRAL if style else _ZH_FINISHES_PHOTO)
        return "".join([rng.choice(_ZH_SHOTS), subject, "。", rng.choice(_ZH_SETTINGS), style_words,
                        rng.choice(_ZH_DETAILS), rng.choice(_ZH_LIGHTS), rng.choice(_ZH_CAMERAS),
                        rng.choice(_ZH_MOODS), finish])
    picture = _zh_picture(facts) if facts is not None else ""
    if mode == "old_photo":
        parts = [f"视频从一张修复后的老家庭照片开始{('，' + picture) if picture else ''}。", rng.choice(_ZH_OLD_PHOTO_MOTIONS)]
        if text:
            parts.append(f"轻轻地，{text}。")
        return "".join(parts + [rng.choice(_ZH_OLD_PHOTO_CAMERAS), rng.choice(_ZH_OLD_PHOTO_MOODS)])
    parts = [f"视频从这张图片开始{('：' + picture) if picture else '，让静止的画面动起来'}。"]
    if text:
        parts.append(f"接下来的几秒里，{text}。")
    parts += [rng.choice(_ZH_I2V_MOTIONS), rng.choice(_ZH_I2V_CAMERAS), rng.choice(_ZH_I2V_CONTINUITY), style_words]
    parts.append(rng.choice(_ZH_MOODS))
    return "".join(parts)


def _zh_picture(facts: ImageFacts) -> str:
    """"一张明亮的横幅图片，暖色调，色彩自然"."""
    if facts.color == "black-and-white":
        return f"一张{_ZH_PICTURE[facts.brightness]}黑白{_ZH_PICTURE[facts.orientation]}图片"
    return (f"一张{_ZH_PICTURE[facts.brightness]}{_ZH_PICTURE[facts.orientation]}图片，"
            f"{_ZH_PICTURE[facts.tone]}，{_ZH_PICTURE[facts.color]}")


def _find_purpose(intent: str | None) -> _Purpose | None:
    """The kind of video the intent names: its first sentence decides, else the whole text."""
    text = " ".join((intent or "").split()).lower()
    if not text:
        return None
    first = _first_sentence(text)
    for scope in (first, text):
        for purpose in _PURPOSES:
            if purpose.pattern.search(scope):
                return purpose
    return None


def _intent_note(intent: str | None) -> str | None:
    """An intent of no known kind, in one sentence of the prompt: its first, if short and English."""
    first = _first_sentence(" ".join((intent or "").split()))
    if not first or not is_english(first) or len(first.split()) > _INTENT_NOTE_MAX_WORDS:
        return None
    return _as_sentences(first)


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?。！？])\s*", text.strip(), maxsplit=1)[0]


def _t2v(
    subject: str, style: str | None, rng: random.Random,
    purpose: _Purpose | None = None, note: str | None = None,
) -> str:
    style_clause = f", in {style} style" if style else ""
    if _is_phrase(subject):
        opening = f"{rng.choice(_SHOTS)} of {_as_phrase(subject)}{style_clause}, {rng.choice(_SETTINGS)}."
    else:
        opening = _as_sentences(subject)
        if style:
            opening += f" The whole scene is rendered in {style} style."
    finish = rng.choice(_FINISHES_NEUTRAL if style else _FINISHES_PHOTO)
    sentences = [opening] + ([note] if note else [])
    sentences += [
        rng.choice(purpose.motions if purpose else _DETAILS),
        rng.choice(_LIGHTS),
        rng.choice(purpose.cameras if purpose else _CAMERAS),
        rng.choice(purpose.moods if purpose else _MOODS),
        finish,
    ]
    return " ".join(sentences)


def _i2v(
    text: str, style: str | None, facts: ImageFacts | None, rng: random.Random,
    purpose: _Purpose | None = None, note: str | None = None,
) -> str:
    if facts is not None:
        opening = f"The video begins exactly on the picture: {_picture(facts)}."
    else:
        opening = "The video begins exactly on the still picture and brings it to life."
    sentences = [opening] + ([note] if note else [])
    if text:
        sentences.append(f"In the seconds that follow, {_as_phrase(text)}.")
    sentences += [
        rng.choice(purpose.motions if purpose else _I2V_MOTIONS),
        rng.choice(purpose.cameras if purpose else _I2V_CAMERAS),
        rng.choice(_I2V_CONTINUITY),
    ]
    if style:
        sentences.append(f"The motion suits its {style} look.")
    if purpose is not None:
        sentences.append(rng.choice(purpose.moods))
    else:
        sentences.append(_TONE_MOODS[facts.tone] if facts else rng.choice(_MOODS))
    return " ".join(sentences)


def _old_photo(text: str, facts: ImageFacts | None, rng: random.Random) -> str:
    opening = "The video starts from a restored old family photograph"
    opening += f", {_picture(facts)}." if facts else "."
    sentences = [opening, rng.choice(_OLD_PHOTO_MOTIONS)]
    if text:
        sentences.append(f"Gently, {_as_phrase(text)}.")
    sentences += [rng.choice(_OLD_PHOTO_CAMERAS), rng.choice(_OLD_PHOTO_MOODS)]
    return " ".join(sentences)


def _picture(facts: ImageFacts) -> str:
    """"a bright landscape image with warm tones and natural colors"."""
    if facts.color == "black-and-white":
        return f"a {facts.brightness} black-and-white {facts.orientation} image"
    return (
        f"a {facts.brightness} {facts.orientation} image with {facts.tone} tones "
        f"and {facts.color} colors"
    )


def _is_phrase(text: str) -> bool:
    """Short, one sentence: usable as "A close-up of <text>"."""
    body = text.rstrip(".!?。！？ ")
    return len(body.split()) <= _SUBJECT_MAX_WORDS and not re.search(r"[.!?]\s", body)


def _as_phrase(text: str) -> str:
    """The user's words inside our sentence: no final period, "The boy" -> "the boy"."""
    phrase = text.strip().rstrip(".!?;,。！？ ")
    first, _, rest = phrase.partition(" ")
    # Lower-case only a capitalised determiner; "NASA rover" and "Paris at night" stay as typed.
    if first.lower() in _DETERMINERS and (len(first) == 1 or first[1:].islower()):
        phrase = first.lower() + (" " + rest if rest else "")
    return phrase


def _as_sentences(text: str) -> str:
    """The user's own sentences, capitalised and closed with a period."""
    text = text.strip()
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
