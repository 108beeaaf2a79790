"""The prompt agent for a model that reads Chinese (Wan): Chinese in, Chinese out, with Wan's own
system prompts (ours, after its authors' prompt-extension advice); CogVideoX keeps writing English.
A real chat server answers (tests/chat_server.py); the offline templates need none."""

from __future__ import annotations

import pytest

from agent import PromptAgent, VideoModel
from agent.clean import is_english, non_latin_share
from agent.instructions import PROMPTS_DIR
from tests.chat_server import ChatServer, Reply

WAN = VideoModel(family="wan", reads_chinese=True)
IDEA = "小男孩在雨中的街道上放纸船"
CHINESE_ANSWER = ("一个穿黄色雨衣的小男孩蹲在雨夜的街边，把一只红色纸船放进积水里。纸船顺着水流漂远，"
                  "霓虹灯的倒影在水面荡漾。镜头贴着水面缓缓跟随纸船。安静而温暖的氛围。")
ENGLISH_ANSWER = ("A little boy in a yellow raincoat crouches by a rainy street at night and sets a red paper "
                  "boat on the water; it drifts away through neon reflections as the camera follows.")


def wan_prompt(name: str) -> str:
    return (PROMPTS_DIR / "wan" / f"{name}.txt").read_text(encoding="utf-8").strip()


@pytest.fixture
def chat_server():
    with ChatServer() as server:
        yield server


def online_agent(server: ChatServer) -> PromptAgent:
    return PromptAgent(base_url=server.url, api_key="test-key", model="text-model", vision_model="vision-model",
                       timeout=2.0, max_retries=0)


def test_chinese_in_chinese_out_with_wans_own_instructions(chat_server):
    chat_server.queue(Reply(text=CHINESE_ANSWER))
    suggestion = online_agent(chat_server).suggest(IDEA, model=WAN, lang="en")
    assert suggestion.source == "llm" and suggestion.text == CHINESE_ANSWER
    messages = chat_server.requests[-1].json["messages"]
    assert messages[0]["content"] == wan_prompt("t2v")
    assert "Wan" in messages[0]["content"] and "CogVideoX" not in messages[0]["content"]
    assert "Write in: Chinese" in messages[1]["content"] and IDEA in messages[1]["content"]


def test_an_english_answer_to_chinese_is_not_taken_on_wan(chat_server):
    chat_server.queue(Reply(text=ENGLISH_ANSWER))
    suggestion = online_agent(chat_server).suggest(IDEA, model=WAN)
    assert suggestion.source == "kept" and suggestion.text == IDEA  # the user's words, not a translation
    assert "中文" in suggestion.warning.zh


def test_an_empty_box_follows_the_pages_language_on_wan(chat_server):
    chat_server.queue(Reply(text=CHINESE_ANSWER), Reply(text=ENGLISH_ANSWER))
    agent = online_agent(chat_server)
    assert agent.suggest("", model=WAN, lang="zh").text == CHINESE_ANSWER
    assert chat_server.requests[-1].json["messages"][0]["content"] == wan_prompt("t2v-empty")
    assert agent.suggest("", model=WAN, lang="en").text == ENGLISH_ANSWER
    assert "Write in: English" in chat_server.requests[-1].json["messages"][1]["content"]


def test_cogvideox_still_gets_english_from_its_own_instructions(chat_server):
    chat_server.queue(Reply(text=ENGLISH_ANSWER), Reply(text=CHINESE_ANSWER))
    agent = online_agent(chat_server)
    assert agent.suggest(IDEA).text == ENGLISH_ANSWER
    messages = chat_server.requests[-1].json["messages"]
    assert "CogVideoX" in messages[0]["content"] and "Write in:" not in messages[1]["content"]
    assert agent.suggest(IDEA).source == "kept"  # a Chinese answer is no prompt for CogVideoX


@pytest.mark.parametrize("mode", ["t2v", "i2v", "old_photo"])
def test_the_offline_templates_write_chinese_for_wan(mode):
    suggestion = PromptAgent().suggest(IDEA, mode=mode, model=WAN)
    assert suggestion.source == "offline" and suggestion.warning is None
    assert IDEA in suggestion.text and len(suggestion.text) > 3 * len(IDEA)  # richer, the user's words kept
    assert non_latin_share(suggestion.text) > 0.9


def test_the_offline_templates_follow_the_page_on_an_empty_box():
    agent = PromptAgent()
    assert non_latin_share(agent.suggest("", model=WAN, lang="zh").text) > 0.9
    assert is_english(agent.suggest("", model=WAN, lang="en").text)
    assert is_english(agent.suggest("", lang="zh").text)  # CogVideoX: English whatever the page


def test_the_offline_templates_keep_chinese_for_cogvideox_as_before():
    suggestion = PromptAgent().suggest(IDEA)
    assert suggestion.source == "kept" and suggestion.warning is not None


def test_a_failing_local_model_falls_back_to_the_chinese_templates_on_wan(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    agent = PromptAgent(local_model=str(folder))
    result = agent.suggest(IDEA, model=WAN)
    assert result.source == "offline" and IDEA in result.text and non_latin_share(result.text) > 0.9
    assert "is not a chat model" in result.warning.en
    assert agent.suggest(IDEA).source == "kept"  # CogVideoX: the templates cannot use Chinese
