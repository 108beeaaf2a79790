"""The examples under each generation tab, in the page's language.

Gradio's examples are values, not labels, so its i18n cannot translate them: each tab gets a
Chinese and an English set, and the page shows the one of its language when it opens. Each
example shows a short title (a long prompt was cut off mid-word) and fills the whole prompt.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from bilingual import Text, pick

from .i18n import request_lang

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"

# mode -> [(title, prompt, picture or None)]
SETS: dict[str, list[tuple[Text, Text, str | None]]] = {
    "t2v": [
        (Text("🐶 A puppy in a meadow", "🐶 金毛小狗在花海奔跑"),
         Text("A golden retriever puppy runs through a sunlit meadow of wildflowers, ears flopping, petals "
              "drifting in the warm breeze; the camera tracks alongside at ground level, soft golden-hour light.",
              "一只金毛幼犬在阳光下的野花草地上奔跑，耳朵一甩一甩，花瓣随暖风飘落；镜头贴着地面跟拍，柔和的黄昏光线。"),
         None),
        (Text("☕ A boy with cocoa", "☕ 长椅上喝热可可的男孩"),
         Text("A little boy in a blue shirt sits on a park bench holding a steaming cup of cocoa; dappled "
              "sunlight through the trees, pigeons walk nearby, the camera slowly pushes in on his smile.",
              "一个穿蓝衬衫的小男孩坐在公园长椅上，捧着一杯冒热气的可可；树影斑驳，鸽子在旁边踱步，镜头缓缓推近他的笑脸。"),
         None),
        (Text("⛵ A paper boat in the rain", "⛵ 雨夜街头的纸船"),
         Text("A red paper boat floats down a rain-soaked city street at night, neon reflections rippling in "
              "the puddles; slow-motion raindrops, the camera follows the boat at water level.",
              "夜晚，一只红色纸船顺着被雨水浸湿的街道漂流，霓虹倒影在水洼里荡漾；雨滴慢动作落下，镜头贴着水面跟随纸船。"),
         None),
        (Text("🌙 An astronaut under two moons", "🌙 双月下的宇航员"),
         Text("An astronaut in a white suit walks across a field of glowing blue flowers under two moons; "
              "gentle wind, the camera circles slowly, dreamy cinematic lighting.",
              "一名身穿白色宇航服的宇航员走过一片发着蓝光的花田，天上挂着两个月亮；微风轻拂，镜头缓缓环绕，梦幻的电影光效。"),
         None),
    ],
    "i2v": [
        (Text("🌅 Sunset on the lake (with its picture)", "🌅 湖上日落（附图片）"),
         Text("The sun sinks slowly behind the mountains while the small boat drifts on the lake; ripples spread "
              "across the golden water and thin clouds glide across the sky. The camera pushes in gently.",
              "太阳缓缓落到山后，小船在湖面上漂荡；金色的水面泛起涟漪，薄云在天空中滑过。镜头轻轻推近。"),
         str(EXAMPLES / "lake_sunset.jpg")),
    ],
    "old_photo": [
        (Text("👪 A family photo comes to life", "👪 让全家福动起来"),
         Text("The people in the photo come to life: they smile, blink and turn gently toward each other; "
              "warm afternoon light, a slow push-in.",
              "照片里的人活了过来：他们微笑、眨眼，轻轻转向彼此；午后温暖的光线，镜头缓缓推近。"),
         str(EXAMPLES / "old_family_photo.jpg")),
    ],
}


def add_examples(loads: list, mode: str, inputs: list, label, forced: str | None) -> None:
    """Build the tab's examples in both languages (only the forced one with --lang); register
    on `loads` the page-open event that shows the set in the visitor's language."""
    chosen = SETS.get(mode)
    if not chosen:
        return
    languages = [forced] if forced in ("zh", "en") else ["zh", "en"]
    datasets = {}
    for lang in languages:
        rows, titles = [], []
        for title, prompt, picture in chosen:
            rows.append([picture, pick(prompt, lang)] if len(inputs) == 2 else [pick(prompt, lang)])
            titles.append(pick(title, lang))
        examples = gr.Examples(rows, inputs=inputs, label=label, example_labels=titles,
                               visible=lang == languages[0], elem_id=f"{mode}-examples-{lang}")
        examples.dataset.headers = []  # a table header would show untranslated keys
        datasets[lang] = examples.dataset
    if len(datasets) < 2:
        return

    def show(request: gr.Request):
        lang = "en" if request_lang(request) == "en" else "zh"
        return [gr.Dataset(visible=lang == key) for key in datasets]

    loads.append((show, list(datasets.values())))
