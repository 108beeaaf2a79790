"""Every label of the UI in Chinese and English, and the user's language for server messages.

Labels are translated in the browser by Gradio's i18n (following the browser language); messages
raised from the server (errors, warnings) pick their language from the request's Accept-Language.
"""

from __future__ import annotations

import gradio as gr

from bilingual import lang_of

# key: (English, 中文). Keys must not collide with Gradio's own translation namespaces ("image",
# "audio", "video", "upload", ...): the browser would show an object instead of our text.
TEXT: dict[str, tuple[str, str]] = {
    "header": (
        "# 🎬 CogVideoX Studio\nMake a short video from a sentence or a photo, on your own GPU.",
        "# 🎬 CogVideoX 视频工作室\n一句话或一张图，生成一段短视频——在你自己的显卡上。",
    ),
    "tab_t2v": ("Text to video", "文生视频"),
    "tab_i2v": ("Image to video", "图生视频"),
    "tab_old": ("Old photo", "老照片"),
    "tab_v2v": ("Restyle a video", "视频转绘"),
    "tab_extend": ("Extend a video", "视频续写"),
    "restyle_source": ("Your video (MP4, MOV or WebM, up to 60 s)", "上传视频（MP4、MOV 或 WebM，最长 60 秒）"),
    "extend_source": ("The video to continue (ours or yours, up to 60 s)", "要续写的视频（本站生成或自己上传，最长 60 秒）"),
    "v2v_prompt_placeholder": (
        "Optional with a style: what the clip should look like, e.g. The same dancer, as a watercolor painting with soft brush strokes.",
        "选了风格时可留空：希望视频变成什么样，例如：同一位舞者，变成笔触柔和的水彩画。",
    ),
    "extend_prompt_placeholder": (
        "What happens next? e.g. The dog jumps into the lake and swims toward the camera.",
        "接下来发生什么？例如：小狗跳进湖里，朝镜头游过来。",
    ),
    "strength": ("Strength", "转绘强度"),
    "strength_info": ("Low keeps the original's look; high repaints it (layout and motion stay).",
                      "低：保留原视频的样子；高：彻底重绘（构图和动作保留）。"),
    "extensions": ("Parts to add", "续写段数"),
    "extensions_info": ("Each part continues from the last frame and adds one clip's length.",
                        "每段从上一段的最后一帧接着生成，增加一个片段的时长。"),
    "crossfade": ("Soft joins (short crossfade)", "柔和衔接（短暂淡入淡出）"),
    "extend_this": ("➕ Extend this video", "➕ 续写这个视频"),
    "gif": ("🎞 Download as GIF (memes)", "🎞 导出 GIF（表情包）"),
    "gif_width": ("GIF width (px)", "GIF 宽度（像素）"),
    "gif_fps": ("GIF frames per second", "GIF 帧率"),
    "gif_make": ("Make GIF", "生成 GIF"),
    "gif_file": ("GIF file", "GIF 文件"),
    "lora": ("LoRA strength", "LoRA 强度"),
    "template": ("Template", "模板"),
    "template_info": ("Fills the prompt, style, music and length for a common use; what you typed becomes its subject.",
                      "一键填好提示词、风格、音乐和时长；你输入的内容会作为主体。"),
    "tab_works": ("My works", "我的作品"),
    "refresh": ("🔄 Refresh", "🔄 刷新"),
    "redeem": ("🎟 Redeem a code", "🎟 兑换码"),
    "redeem_code": ("Your code", "你的兑换码"),
    "redeem_button": ("Redeem", "兑换"),
    "reuse": ("♻️ Make one like this", "♻️ 做同款"),  # the settings back on their tab, a random seed
    "again": ("🔁 Again", "🔁 再来一次"),  # the same settings, a new seed, a new job
    "delete": ("🗑 Delete", "🗑 删除"),
    "delete_confirm": ("⚠️ Delete for good?", "⚠️ 确定删除？"),
    "prompt": ("Describe your video", "描述你想要的视频"),
    "prompt_placeholder": (
        "e.g. A little boy in a blue shirt sits on a park bench, sipping steaming coffee in dappled sunlight; the camera slowly pushes in.",
        "例如：一个穿蓝衬衫的小男孩坐在公园长椅上，捧着冒着热气的咖啡，斑驳的阳光洒下，镜头缓缓推近。（英文效果最佳）",
    ),
    "prompt_placeholder_any_language": (
        "e.g. A little boy in a blue shirt sits on a park bench, sipping steaming coffee in dappled sunlight; the camera slowly pushes in.",
        "例如：一个穿蓝衬衫的小男孩坐在公园长椅上，捧着冒着热气的咖啡，斑驳的阳光洒下，镜头缓缓推近。（中文、英文都可以）",
    ),
    "i2v_prompt_placeholder": (
        "What happens next? e.g. The boat drifts slowly as the sun sets; ripples spread on the water.",
        "接下来发生什么？例如：夕阳西下，小船缓缓漂动，水面泛起涟漪。",
    ),
    "old_prompt_placeholder": (
        "Optional: e.g. The grandmother in the photo puts on headphones and smiles.",
        "可选：例如 图中的奶奶带上头戴式耳机，露出微笑。",
    ),
    "suggest": ("✨ Help me write one", "✨ 帮我想一条"),
    "restore": ("↩ Restore my text", "↩ 恢复原文"),
    "translate": ("Translate to English before generating (CogVideoX reads English only)",
                  "自动翻译为英文（CogVideoX 只能读懂英文）"),
    "first_frame": ("Start from this picture", "以这张图片为第一帧"),
    "old_image": ("Your old photo", "上传老照片"),
    "colorize": ("Colorize black-and-white photos first", "先为黑白照片上色"),
    "colorize_missing": (
        "Colorizing is not installed on this studio, so photos are animated as they are.",
        "本站尚未安装上色模型，照片会按原样动起来。",
    ),
    "colorized": ("Colorized photo (first frame)", "上色后的照片（第一帧）"),
    "generate": ("🎬 Generate video", "🎬 生成视频"),
    "cancel": ("Cancel", "取消"),
    "advanced": ("Advanced settings", "高级设置"),
    "negative_prompt": ("Negative prompt (what to avoid)", "反向提示词（不希望出现的内容）"),
    "seed": ("Seed (-1 = random)", "种子（-1 为随机）"),
    "randomize": ("Random seed each time", "每次随机种子"),
    "steps": ("Denoising steps", "采样步数"),
    "guidance": ("Guidance scale", "引导系数"),
    "frames": ("Frames", "帧数"),
    "model": ("Model", "模型"),
    "style": ("Style", "风格"),
    "music": ("Background music", "背景音乐"),
    "music_upload": ("…or upload your own music", "……或上传你自己的音乐"),
    "music_preview": ("Preview", "试听"),
    "volume": ("Music volume", "音乐音量"),
    "apply_music": ("🎵 Apply music to this video", "🎵 为当前视频换配乐"),
    "keep_music_as": ("Keep the video with the new music", "换配乐后的视频"),
    "keep_music_new": ("Save as a new work", "另存为新作品"),
    "keep_music_replace": ("Replace the original", "替换原作品"),
    "upscale": ("Upscale to 1440p (2×)", "超分到 1440p（2 倍）"),
    "upscale_2x": ("Upscale (2×)", "超分（2 倍）"),
    "speed": ("Speed", "生成速度"),
    "speed_info": (
        "Quality computes every step in full. Balanced and Fast reuse work between neighbouring steps "
        "(Fast: about 1.6× in its authors' CogVideoX tests); Lean skips steps that barely change and needs "
        "almost no extra graphics memory. Small details may differ.",
        "质量优先：每一步完整计算。均衡和速度优先会复用相邻步骤的计算（速度优先在作者的 CogVideoX 测试中约快 1.6 倍）；"
        "轻快会跳过几乎没有变化的步骤，几乎不占额外显存。细节可能略有不同。",
    ),
    "speed_info_quality": ("Quality computes every step in full.", "质量优先：每一步完整计算。"),
    "interpolate": ("Smooth motion (2× frame rate)", "流畅运动（2 倍帧率）"),
    "result": ("Your video", "生成结果"),
    "used_seed": ("Seed used", "实际种子"),
    "final_prompt": ("Final prompt sent to the model", "最终提示词"),
    "details": ("Details", "详情"),
    "examples": ("Try an example", "试试示例"),
    "music_none": ("No music", "无音乐"),
}

# Browsers in other languages get Chinese, the product's default (Gradio itself falls back to English).
OTHER_LOCALES = ("ja", "ko", "fr", "de", "es", "it", "pt", "ru", "ar", "tr", "vi", "th", "id", "nl", "pl")


def build_i18n(forced: str | None = None, extra: dict[str, tuple[str, str]] | None = None) -> gr.I18n:
    """Gradio's translation tables; `extra` adds data-driven labels (style and track names)."""
    pairs = {**TEXT, **(extra or {})}
    en = {key: pair[0] for key, pair in pairs.items()}
    zh = {key: pair[1] for key, pair in pairs.items()}
    if forced == "en":
        zh = en
    elif forced == "zh":
        en = zh
    default = en if forced == "en" else zh
    tables = {"en": en, "zh": zh, "zh-CN": zh, "zh-TW": zh, "zh-HK": zh}
    tables.update({locale: default for locale in OTHER_LOCALES})
    return gr.I18n(**tables)


def request_lang(request: gr.Request | None, forced: str | None = None) -> str:
    """'zh', 'en', or 'both' for server-side messages.

    Forced by --lang; else the browser's first language (Chinese for languages we lack); 'both'
    for callers that send no Accept-Language at all (scripts), so a developer can read either.
    """
    if forced in ("zh", "en"):
        return forced
    header = ""
    if request is not None:
        try:
            header = request.headers.get("accept-language", "") or ""
        except AttributeError:
            header = ""
    return lang_of(header)
