"""Phone first: the page's CSS for narrow screens and the small scripts that keep what the finger
just did on screen (Gradio stays the face; this is theme and CSS, not a second front end)."""

from __future__ import annotations

PHONE = 640  # px: below this the columns stack and the phone rules apply

PHONE_CSS = """
/* Gradio's container clips with overflow:hidden, which makes it a scroll box: nothing inside can be
   sticky to the viewport. Clipping (no scroll box) keeps the no-horizontal-scroll promise. */
.gradio-container {overflow: visible !important; overflow-x: clip !important;}
/* Every tab one tap away: the tab row wraps (overflow_behavior="wrap") instead of hiding tabs
   behind a menu; on a phone the buttons are compact so six fit in two rows at 360 px. */
.tab-container button {flex: 0 0 auto;}
/* A slider's label keeps its words on one line: the number box moves below it rather than
   squeezing the label to one character per line. */
.head {flex-wrap: wrap; gap: 4px;}
.head > label {flex: 1 0 auto; min-width: min(100%, 5em);}
.head > label span {white-space: normal; word-break: keep-all;}
/* Upload prompts and file names wrap instead of being clipped or overlapping the drop text. */
.file-preview .filename {min-width: 4em; word-break: break-all; white-space: normal;}
/* A small file upload (the music): its label floats over the drop area, so a label of two lines
   covered "Drop File Here"; as a line of its own above it, and with the drop area as tall as its
   three lines of text, nothing overlaps or is cut off ("点击上传"). */
.block:has(> button.upload-container) > label[data-testid=block-label].float {position: static;
    max-width: 100%; white-space: normal; margin: 0 0 var(--size-1) 0;}
.block > button.upload-container {height: auto !important; min-height: 90px;}
.block > button.upload-container [data-testid=upload-text] {min-height: 0; padding: var(--size-2) 0;}
.block > button.upload-container .icon-wrap {margin-bottom: var(--size-1);}
/* A file's whole name (the GIF): Gradio ellipsises the stem on one line and keeps 8rem for the
   size, which at a phone's width left "2….gif". The name wraps; the size takes what it needs. */
.file-preview .filename .stem {white-space: normal; overflow: visible; text-overflow: clip; min-width: 0;}
.file-preview .filename .ext {align-self: flex-end;}
.file-preview .download {min-width: 0; width: 6.5em;}
/* A note beside a control (the style's description, the GIF's size): the note's pull-up towards the
   box above (for the note under the prompt) lifted its first line out of the row, where it was cut
   off; beside a control it starts at the row's top and drops below the control when narrow. */
.row > .block.prompt-note {margin-top: 0 !important;}
.row > .block.prompt-note:has(p) {min-width: min(12em, 100%) !important; flex: 1 1 12em;}
.row > .block.prompt-note .prose.prompt-note {margin-top: 0;}
/* Beside a file, the note (the GIF's size and why) goes under it: the file's name keeps the width. */
.row:has(> .block .file-preview-holder) > .block.prompt-note {flex-basis: 100%;}
.wrap .or, .upload-text, .icon-wrap + span {white-space: normal;}
.prompt-note p {overflow-wrap: anywhere;}
.prompt-note {overflow: visible !important;}
/* Generate and Cancel are one bar of one height. */
.generate-row {align-items: stretch; flex-wrap: nowrap !important;}
.generate-row > button {min-height: 56px; min-width: 0 !important;}
/* While its job waits or renders, Generate carries the job's state ("生成中 45%", ui/busy.py):
   opaque (Gradio's half-transparent disabled button let the form show through the sticky bar). */
.generate-row > .generate-btn[disabled] {opacity: 1; filter: none; color: var(--body-text-color);
    background: var(--button-secondary-background-fill); border-color: var(--button-secondary-border-color);}
/* 我的作品: the caption sits under its cover (never over it), status · date first, two lines. */
#works-gallery .thumbnail-item {aspect-ratio: auto; height: auto; display: flex; flex-direction: column;}
#works-gallery .thumbnail-item img, #works-gallery .thumbnail-item video {aspect-ratio: 4 / 3; height: auto;
    flex: 0 0 auto; min-height: 0;}
#works-gallery .thumbnail-item .caption-label {position: static; max-width: 100%; width: 100%; opacity: 1;
    border: none; border-radius: 0; white-space: normal; display: -webkit-box; -webkit-line-clamp: 3;
    -webkit-box-orient: vertical; overflow: hidden; line-height: 1.3;}
#works-gallery .grid-container {grid-auto-rows: auto; grid-template-rows: none;}
/* The footer holds one link ("Use via API"), so the dot Gradio puts after it separates nothing; on a
   phone Gradio hides the link and the dot stays alone at the page's end. Top level on purpose:
   Gradio scopes rules inside @media to the page's body, and the footer sits outside it. */
footer .divider {display: none;}
@media (max-width: 640px) {
  .tab-container button {padding: 0 var(--size-2); font-size: var(--text-md);}
  /* The Generate bar stays under the thumb while its tab's form scrolls by. */
  .generate-row {position: sticky; bottom: 0; z-index: 30; background: var(--background-fill-primary);
      padding: 8px 0 calc(8px + env(safe-area-inset-bottom)); box-shadow: 0 -6px 10px -6px rgba(0,0,0,.25);}
  /* Today's free videos left ride on the bar, just above it (the bar: 56 px and 8 px above and below). */
  .block.free-left {position: sticky; bottom: calc(72px + env(safe-area-inset-bottom)); z-index: 30;
      background: var(--background-fill-primary); padding: 4px 0 0; margin-bottom: -8px;}
  #works-gallery .grid-container {grid-template-columns: repeat(2, minmax(0, 1fr)) !important;}
  #works-gallery .caption-label {font-size: .8em;}
  /* After Generate a phone scrolls to the wait note (place in line, time left: the result's spinner
     has no words while the job waits) with the bar above it (the job's state, Cancel): the bar's
     72 px and the column's two 16 px gaps (the empty outcome block between). The result's top
     follows on the same screen. One pixel tall while empty, the note can anchor the scroll: else
     the browser's scroll anchoring (on the examples below) scrolled the bar away when it filled. */
  .block.wait-note {scroll-margin-top: calc(104px + env(safe-area-inset-bottom)); min-height: 1px;}
}
"""


def scroll_to(selector: str, *, then_prompt: bool = False, phone: str | None = None) -> str:
    """A click's `js=`: bring `selector` (the first visible match) on screen. It runs in the browser
    before the event's Python, so it scrolls to where the progress and then the result will show.
    On a phone (columns stacked) the element goes to the top, or `phone` when given; on a wide
    screen only as far as needed."""
    target = selector if phone is None else phone
    return f"""() => {{
      const sel = innerWidth < {PHONE} ? {target!r} : {selector!r};
      const pick = () => [...document.querySelectorAll(sel)].find(e => e.offsetParent !== null);
      const go = () => {{
        const el = pick(); if (!el) return;
        const box = el.getBoundingClientRect();
        if (box.top < 0 || box.top > innerHeight - 80)
          el.scrollIntoView({{block: innerWidth < {PHONE} ? 'start' : 'nearest'}});
      }};
      // Again while the page settles: a focused box, a toast or the progress appearing can move it.
      go(); for (const ms of [60, 200, 500, 1000]) setTimeout(go, ms);

    }}"""


def scroll_to_prompt() -> str:
    """After ♻️ reuse: the tab switched, so wait a frame for it to show, then bring its prompt on screen."""
    return """() => {
      let tries = 0;
      const go = () => {
        const el = [...document.querySelectorAll('.prompt-box')].find(e => e.offsetParent !== null);
        if (el) el.scrollIntoView({block: 'center'});
        else if (tries++ < 20) setTimeout(go, 50);
      };
      setTimeout(go, 50);

    }"""
