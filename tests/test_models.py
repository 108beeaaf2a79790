import pytest

from cogvideo.engine import models
from cogvideo.errors import InvalidRequest

GiB = models.GiB


def test_variants_carry_the_published_facts():
    v = models.VARIANTS
    assert v["2b"].repo_id == "THUDM/CogVideoX-2b" and v["2b"].dtype == "float16"
    assert v["5b"].repo_id == "THUDM/CogVideoX-5b" and v["5b"].dtype == "bfloat16"
    assert v["5b-i2v"].task == "i2v" and v["5b-i2v"].repo_id == "THUDM/CogVideoX-5b-I2V"
    assert (v["5b"].width, v["5b"].height, v["5b"].num_frames, v["5b"].fps) == (720, 480, 49, 8)
    assert (v["1.5-5b"].width, v["1.5-5b"].height, v["1.5-5b"].num_frames, v["1.5-5b"].fps) == (1360, 768, 81, 16)
    assert v["1.5-5b-i2v"].repo_id == "THUDM/CogVideoX1.5-5B-I2V"
    assert v["5b"].max_tokens == 226 and v["1.5-5b"].max_tokens == 224
    assert v["5b"].allowed_frames() == [9, 17, 25, 33, 41, 49]  # 8N+1
    assert v["1.5-5b"].allowed_frames()[:3] == [17, 33, 49]  # 16N+1
    assert (v["tiny"].width, v["tiny"].height, v["tiny"].num_frames) == (144, 96, 9)


def test_partners_share_a_family():
    assert models.partner(models.VARIANTS["5b"]).name == "5b-i2v"
    assert models.partner(models.VARIANTS["1.5-5b-i2v"]).name == "1.5-5b"
    assert models.partner(models.VARIANTS["tiny"]).name == "tiny-i2v"
    assert models.partner(models.VARIANTS["2b"]) is None


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(InvalidRequest) as err:
        models.resolve("7b")
    assert "'7b'" in err.value.en and "5b-i2v" in err.value.en and "tiny" in err.value.en
    assert "未知模型" in err.value.zh


def test_frame_count_rule_names_allowed_values_and_nearest():
    v = models.VARIANTS["5b"]
    assert models.check_frames(v, 49) == 49
    with pytest.raises(InvalidRequest) as err:
        models.check_frames(v, 48)
    assert "9, 17, 25, 33, 41, 49" in err.value.en and "nearest is 49" in err.value.en
    with pytest.raises(InvalidRequest):
        models.check_frames(v, 57)  # 8N+1 but above the 1.0 models' 49


def test_size_fixed_except_for_1_5_image_to_video():
    assert models.check_size(models.VARIANTS["5b"], None, None) == (480, 720)
    with pytest.raises(InvalidRequest, match="only at 720×480"):
        models.check_size(models.VARIANTS["5b"], 768, 1360)
    # 1.5 text-to-video: 1360×768 only; image-to-video: portrait too (more in test_speed.py).
    with pytest.raises(InvalidRequest, match="only at 1360×768"):
        models.check_size(models.VARIANTS["1.5-5b"], 1360, 768)
    assert models.check_size(models.VARIANTS["1.5-5b-i2v"], 1360, 768) == (1360, 768)
    with pytest.raises(InvalidRequest, match="multiple of 16"):
        models.check_size(models.VARIANTS["1.5-5b-i2v"], 770, 1360)


@pytest.mark.parametrize(
    "free_gib, name, expected",
    [
        (None, "5b", "none"),  # no accelerator: CPU, no offload hooks
        (80, "5b", "none"),
        (40, "5b", "none"),  # 36 GiB budget >= 24 (measured peak, H200)
        (24, "5b", "model"),  # 21.6 >= 21 (published, model offload with VAE tiling)
        (12, "5b", "group"),  # 10.8 >= 8
        (6, "5b", "sequential"),  # 5.4 >= 5
        (3, "5b", "sequential"),  # nothing fits: the most frugal mode
        (24, "2b", "none"),  # 21.6 >= 18
        (16, "2b", "model"),
        (24, "1.5-5b", "group"),  # 21.6 < 24 (model) but >= 12
    ],
)
def test_auto_offload_table(free_gib, name, expected):
    free = None if free_gib is None else int(free_gib * GiB)
    assert models.choose_offload(free, models.VARIANTS[name]) == expected


def test_next_offload_for_out_of_memory_advice():
    assert models.next_offload("none") == "model"
    assert models.next_offload("group") == "sequential"
    assert models.next_offload("sequential") is None


def test_local_folder_that_is_not_a_pipeline(tmp_path):
    with pytest.raises(InvalidRequest, match="not a diffusers pipeline folder"):
        models.resolve(str(tmp_path))
