"""Synthesize the studio's built-in music from code and render it to Opus.

Every sound here is made with numpy: additive and FM instruments with ADSR envelopes, drums from
shaped noise and swept sines, a Freeverb-style Schroeder reverb, constant-power panning. The
tracks are therefore ours to license (CC0). Rendering is deterministic (fixed seeds).

Each piece is a whole number of bars and loops seamlessly: notes and reverb that ring past the
last bar are wrapped onto the start (the piece is rendered as one period of a periodic signal),
and the last bar leads harmonically back to the first.

    python scripts/make_music.py                 # render every track, write tracks.json, check them
    python scripts/make_music.py --only calm     # render one track
    python scripts/make_music.py --check         # only analyse the files already in assets/music
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MUSIC_DIR = ROOT / "assets" / "music"
SR = 48_000  # Hz; Opus's native rate, so the encoder does not resample
TAU = 2.0 * np.pi
TARGET_LUFS = -18.0  # integrated loudness of every track (BS.1770)
CEILING_DBFS = -1.5  # sample-peak ceiling before encoding; Opus decoding can overshoot a little
OPUS_BITRATE = "96k"
LICENSE = "CC0-1.0, made by CogVideoX Studio"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------- pitch

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi(name: str | int) -> int:
    """'C4' -> 60, 'Bb3' -> 58, 'F#5' -> 78; ints pass through."""
    if isinstance(name, int):
        return name
    letter, rest, accidental = name[0], name[1:], 0
    while rest and rest[0] in "#b":
        accidental += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + _LETTERS[letter] + accidental


def hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


# ---------------------------------------------------------------- envelopes and oscillators

def adsr(n_on: int, attack: float, decay: float, sustain: float, release: float, length: int) -> np.ndarray:
    """Gain curve (`length` samples) for a note held n_on samples, then released. Times in s.

    Attack is linear, decay exponential towards `sustain`, release exponential to exactly zero;
    past the release the curve is zero.
    """
    a = max(1, int(attack * SR))
    r = max(8, int(release * SR))
    t = np.arange(n_on, dtype=np.float64)
    held = np.where(t < a, t / a, sustain + (1.0 - sustain) * np.exp(-(t - a) / max(1.0, decay * SR)))
    level = held[-1] if n_on else 0.0
    x = np.arange(r) / r
    env = np.concatenate([held, level * np.exp(-4.0 * x) * (1.0 - x)])[:length]
    return np.pad(env, (0, length - len(env)))


def decay_env(n: int, tau: float, attack: float = 0.002) -> np.ndarray:
    """Percussive envelope: a short linear attack, then exp(-t/tau) (tau in seconds)."""
    t = np.arange(n) / SR
    return np.minimum(1.0, t / attack) * np.exp(-t / tau)


def tail_off(signal: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    """Ramp the last samples to zero so a cut-off ringing note never clicks."""
    k = min(signal.shape[-1], int(seconds * SR))
    signal[..., -k:] *= np.linspace(1.0, 0.0, k)
    return signal


def additive(freq: float, n: int, partials: list[tuple[float, float, float]], phase_seed: int = 0,
             vibrato: tuple[float, float, float] | None = None) -> np.ndarray:
    """Sum of sines: partials are (frequency ratio, amplitude, decay time in s; 0 = no decay).

    Partials above 18 kHz are skipped (band-limited: no aliasing). `vibrato` is (rate Hz, depth as
    a fraction of frequency, onset delay s); its phase is integrated analytically.
    """
    t = np.arange(n) / SR
    base = t.copy()
    if vibrato is not None:
        rate, depth, delay = vibrato
        ramp = np.clip((t - delay) / 0.4, 0.0, 1.0)
        base = t - ramp * depth * np.cos(TAU * rate * t) / (TAU * rate)
    rng = np.random.default_rng(phase_seed)
    out = np.zeros(n)
    for ratio, amp, tau in partials:
        f = freq * ratio
        if f > 18_000 or amp == 0.0:
            continue
        wave = amp * np.sin(TAU * f * base + rng.uniform(0, TAU))
        if tau:
            wave *= np.exp(-t / tau)
        out += wave
    return out


def saw_partials(count: int, brightness: float) -> list[tuple[float, float, float]]:
    """A sawtooth's 1/k series with a soft roll-off (a gentle low-pass) controlled by brightness."""
    return [(k, (1.0 / k) * math.exp(-k / (2.0 + 10.0 * brightness)), 0.0) for k in range(1, count + 1)]


def pan(signal: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan of a mono signal (position -1 left .. +1 right) -> 2×n."""
    angle = (position + 1.0) * math.pi / 4.0
    return np.stack([signal * math.cos(angle), signal * math.sin(angle)])


def stable_seed(*parts: object) -> int:
    # Python's hash() of strings changes per process; crc32 keeps renders reproducible.
    return zlib.crc32(repr(parts).encode())


# ---------------------------------------------------------------- filters (FFT, zero phase)

def fft_filter(x: np.ndarray, response: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Filter along the last axis by a magnitude response of frequency (Hz).

    Circular: exact for a loop, and for one-shots padded with silence.
    """
    n = x.shape[-1]
    spectrum = np.fft.rfft(x, axis=-1)
    spectrum *= response(np.fft.rfftfreq(n, 1.0 / SR))
    return np.fft.irfft(spectrum, n=n, axis=-1)


def lowpass(cutoff: float, order: int = 2) -> Callable[[np.ndarray], np.ndarray]:
    return lambda f: 1.0 / np.sqrt(1.0 + (f / cutoff) ** (2 * order))


def highpass(cutoff: float, order: int = 2) -> Callable[[np.ndarray], np.ndarray]:
    return lambda f: 1.0 / np.sqrt(1.0 + (cutoff / np.maximum(f, 1e-3)) ** (2 * order))


def bandpass(low: float, high: float, order: int = 2) -> Callable[[np.ndarray], np.ndarray]:
    lo, hi = highpass(low, order), lowpass(high, order)
    return lambda f: lo(f) * hi(f)


def noise(n: int, rng: np.random.Generator, response: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    white = rng.standard_normal(n)
    if response is None:
        return white
    shaped = fft_filter(white, response)
    return shaped / (np.sqrt(np.mean(shaped**2)) + 1e-12)


# ---------------------------------------------------------------- pitched instruments
# Each takes (frequency Hz, samples held, velocity 0..1) and returns mono (n,) or stereo (2, n).

def piano(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Additive piano: stretched partials (inharmonicity), brighter when struck harder,
    higher partials dying sooner, a two-stage decay, a detuned string pair, and damping on release."""
    ring = int(min(6.0, 2.5 * (262.0 / freq) ** 0.5) * SR)
    n = min(n_on, ring) + int(0.25 * SR)
    tau0 = float(np.clip(3.0 * (262.0 / freq) ** 0.6, 0.5, 6.0))
    inharm = 0.0002
    partials = []
    for k in range(1, 19):
        ratio = k * math.sqrt(1.0 + inharm * k * k)
        amp = (1.0 / k**1.15) * math.exp(-(k - 1) * (0.55 - 0.4 * vel))
        tau = tau0 / (1.0 + 0.45 * (k - 1))
        partials.append((ratio, amp, tau))
        partials.append((ratio * 1.0004, amp * 0.5, tau * 1.3))  # second string, slightly sharp: slow beating
    t = np.arange(n) / SR
    body = additive(freq, n, partials, stable_seed("piano", freq))
    body *= 0.35 + 0.65 * np.exp(-t / 0.35)  # fast first stage, then the long "aftersound"
    damper = adsr(min(n_on, ring), 0.0015, 1e9, 1.0, 0.22, n)
    hammer = noise(n, np.random.default_rng(stable_seed("hammer", freq)), bandpass(800, 4000)) * decay_env(n, 0.004, 0.0005)
    return (body * damper + 0.05 * vel * hammer) * vel


def epiano(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Rhodes-like FM: a 1:1 pair whose index falls after the strike (the bark), plus a short
    high tine partial; stereo tremolo (a suitcase piano's auto-pan)."""
    n = n_on + int(0.3 * SR)
    t = np.arange(n) / SR
    index = (0.4 + 2.0 * vel) * np.exp(-t / 0.22) + 0.25
    body = np.sin(TAU * freq * t + index * np.sin(TAU * freq * t))
    tine = 0.25 * vel * np.sin(TAU * freq * 7.0 * t) * np.exp(-t / 0.03)
    amp = adsr(n_on, 0.002, 1.4 * (262.0 / freq) ** 0.3, 0.0, 0.25, n)
    mono = (body + tine) * amp * vel
    wobble = 0.5 + 0.25 * np.sin(TAU * 3.2 * t)
    return np.stack([mono * (1.0 - wobble + 0.5), mono * (wobble + 0.5)]) * 0.5


def glass(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Soft glassy bell: FM at an inharmonic 3.5:1 ratio with a slowly falling index."""
    n = n_on + int(2.5 * SR)
    t = np.arange(n) / SR
    index = 1.1 * vel * np.exp(-t / 0.8) + 0.1
    tone = np.sin(TAU * freq * t + index * np.sin(TAU * 3.5 * freq * t))
    tone += 0.3 * np.sin(TAU * 2.0 * freq * t) * np.exp(-t / 0.6)
    return tail_off(tone * decay_env(n, 1.6, 0.004) * vel)


def music_box(freq: float, n_on: int, vel: float) -> np.ndarray:
    """A steel comb tooth: cantilever modes at 1, 6.27 and 17.55 times the fundamental,
    the upper ones dying fast; it rings on regardless of note length (there is no damper)."""
    n = int(2.8 * SR)
    tau = 1.4 * (880.0 / freq) ** 0.5
    partials = [(1.0, 1.0, tau), (2.0, 0.06, tau * 0.3), (6.27, 0.18, 0.12), (17.55, 0.05, 0.03)]
    tone = additive(freq, n, partials, stable_seed("box", freq))
    return tail_off(tone * decay_env(n, 10.0, 0.0008) * vel)


def marimba(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Tuned bar: modes 1, 3.93, 9.2; short at the top of the range; a soft mallet knock."""
    n = int(1.2 * SR)
    tau = 0.5 * (262.0 / freq) ** 0.6
    tone = additive(freq, n, [(1.0, 1.0, tau), (3.93, 0.3 * vel, 0.05), (9.2, 0.08, 0.015)], stable_seed("mar", freq))
    knock = noise(n, np.random.default_rng(stable_seed("knock", freq)), bandpass(300, 2500)) * decay_env(n, 0.003, 0.0005)
    return tail_off((tone + 0.04 * knock) * decay_env(n, 10.0, 0.001) * vel)


def glockenspiel(freq: float, n_on: int, vel: float) -> np.ndarray:
    n = int(1.8 * SR)
    tone = additive(freq, n, [(1.0, 1.0, 1.0), (2.76, 0.35, 0.3), (5.4, 0.15, 0.12), (8.93, 0.08, 0.05)], stable_seed("glock", freq))
    return tail_off(tone * decay_env(n, 10.0, 0.0008) * vel)


def vibes(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Vibraphone-ish: a 4:1 FM partial on a sine with the motor's 5 Hz tremolo."""
    n = n_on + int(1.0 * SR)
    t = np.arange(n) / SR
    tone = np.sin(TAU * freq * t + 0.5 * vel * np.exp(-t / 0.4) * np.sin(TAU * 4.0 * freq * t))
    tone *= 1.0 - 0.25 * (0.5 + 0.5 * np.sin(TAU * 5.0 * t))
    return tone * adsr(n_on, 0.003, 1.5, 0.2, 0.6, n) * vel


def pluck(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Plucked string: partials weighted by the pluck position, higher ones decaying faster."""
    n = n_on + int(0.12 * SR)
    tau0 = 0.9 * (262.0 / freq) ** 0.5
    position = 0.2
    partials = [
        (k, abs(math.sin(math.pi * k * position)) / k**1.2, tau0 / (1.0 + 0.6 * (k - 1)))
        for k in range(1, 21)
    ]
    tone = additive(freq, n, partials, stable_seed("pluck", freq))
    return tone * adsr(n_on, 0.001, 1e9, 1.0, 0.1, n) * vel


def pad(freq: float, n_on: int, vel: float, brightness: float = 0.35) -> np.ndarray:
    """Warm pad: three detuned band-limited saws (-8, 0, +8 cents), spread left/centre/right."""
    n = n_on + int(2.0 * SR)
    env = adsr(n_on, 1.2, 1.5, 0.8, 2.0, n)
    voices = [
        additive(freq * 2 ** (cents / 1200), n, saw_partials(16, brightness), stable_seed("pad", freq, cents),
                 vibrato=(0.3 + 0.1 * i, 0.0015, 0.0))
        for i, cents in enumerate((-8, 0, 8))
    ]
    left, right = voices[0] + 0.6 * voices[1], voices[2] + 0.6 * voices[1]
    return np.stack([left, right]) * env * vel * 0.4


def strings(freq: float, n_on: int, vel: float, attack: float = 0.35) -> np.ndarray:
    """String section: two detuned saws with delayed vibrato; `attack` 0.01 gives spiccato."""
    short = attack < 0.05
    n = n_on + int((0.12 if short else 0.5) * SR)
    env = adsr(n_on, attack, 0.15 if short else 2.0, 0.0 if short else 0.85, 0.1 if short else 0.5, n)
    voices = [
        additive(freq * 2 ** (cents / 1200), n, saw_partials(24, 0.25 + 0.4 * vel), stable_seed("str", freq, cents),
                 vibrato=None if short else (5.2 + 0.3 * i, 0.003, 0.25))
        for i, cents in enumerate((-5, 5))
    ]
    return np.stack([voices[0] + 0.3 * voices[1], voices[1] + 0.3 * voices[0]]) * env * vel * 0.5


def brass(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Horn section: 1:1 FM whose index follows the envelope (louder is brighter), two players."""
    n = n_on + int(0.3 * SR)
    t = np.arange(n) / SR
    env = adsr(n_on, 0.07, 0.4, 0.8, 0.25, n)
    out = []
    for cents, rate in ((-4, 4.8), (4, 5.3)):
        f = freq * 2 ** (cents / 1200)
        vib = np.clip((t - 0.4) / 0.5, 0.0, 1.0) * 0.003 * np.cos(TAU * rate * t) / (TAU * rate)
        phase = TAU * f * (t - vib)
        out.append(np.sin(phase + (0.4 + 2.2 * vel * env) * np.sin(phase)))
    return np.stack([out[0] + 0.4 * out[1], out[1] + 0.4 * out[0]]) * env * vel * 0.5


def bass_round(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Round electric bass: sine plus a little 2nd and 3rd harmonic, gently saturated."""
    n = n_on + int(0.08 * SR)
    tone = additive(freq, n, [(1.0, 1.0, 0.0), (2.0, 0.3, 0.5), (3.0, 0.12, 0.25)], stable_seed("bass", freq))
    env = adsr(n_on, 0.004, 0.5, 0.7, 0.06, n)
    return np.tanh(1.5 * tone * env) / np.tanh(1.5) * vel


def bass_pluck(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Pop synth bass: a saw whose upper harmonics close quickly (a filter envelope) over a sine."""
    n = n_on + int(0.06 * SR)
    partials = [(k, 1.0 / k, 0.25 / k**0.8) for k in range(2, 14)]
    tone = additive(freq, n, [(1.0, 1.0, 0.0)] + partials, stable_seed("bpluck", freq))
    return np.tanh(tone * adsr(n_on, 0.003, 0.3, 0.6, 0.05, n)) * vel


def pizzicato(freq: float, n_on: int, vel: float) -> np.ndarray:
    n = int(0.7 * SR)
    partials = [(k, abs(math.sin(math.pi * k * 0.3)) / k**1.3, 0.35 / k**0.5) for k in range(1, 12)]
    return tail_off(additive(freq, n, partials, stable_seed("pizz", freq)) * decay_env(n, 10.0, 0.002) * vel)


def lead(freq: float, n_on: int, vel: float) -> np.ndarray:
    """Bright pop lead: a 35 % pulse (odd and some even harmonics), vibrato, a chorus copy."""
    n = n_on + int(0.15 * SR)
    partials = [(k, math.sin(math.pi * k * 0.35) / k, 0.0) for k in range(1, 24)]
    env = adsr(n_on, 0.008, 0.25, 0.7, 0.12, n)
    a = additive(freq, n, partials, stable_seed("lead", freq), vibrato=(5.5, 0.004, 0.2))
    b = additive(freq * 2 ** (7 / 1200), n, partials, stable_seed("lead2", freq), vibrato=(5.0, 0.004, 0.25))
    return np.stack([a + 0.5 * b, b + 0.5 * a]) * env * vel * 0.35


# ---------------------------------------------------------------- drums (one-shots)

def kick(rng: np.random.Generator, low: float = 48.0, punch: float = 120.0, tau: float = 0.32) -> np.ndarray:
    n = int(0.6 * SR)
    t = np.arange(n) / SR
    freq = low + punch * np.exp(-t / 0.03)
    body = np.sin(TAU * np.cumsum(freq) / SR) * decay_env(n, tau, 0.001)
    click = noise(n, rng, highpass(2000)) * decay_env(n, 0.002, 0.0003) * 0.15
    return tail_off(np.tanh(1.6 * (body + click)) / np.tanh(1.6))


def snare(rng: np.random.Generator, tau: float = 0.14, low: float = 1200.0) -> np.ndarray:
    n = int(0.5 * SR)
    t = np.arange(n) / SR
    tone = (np.sin(TAU * 185 * t) + 0.5 * np.sin(TAU * 330 * t)) * decay_env(n, 0.05, 0.001)
    rattle = noise(n, rng, bandpass(low, 9000)) * decay_env(n, tau, 0.001)
    return tail_off(0.5 * tone + 0.45 * rattle)


def clap(rng: np.random.Generator) -> np.ndarray:
    n = int(0.4 * SR)
    t = np.arange(n) / SR
    bursts = sum(np.where(t >= d, np.exp(-(t - d) / 0.004), 0.0) for d in (0.0, 0.009, 0.019))
    env = 0.6 * bursts + np.where(t >= 0.028, np.exp(-np.maximum(t - 0.028, 0) / 0.1), 0.0)
    return tail_off(noise(n, rng, bandpass(900, 4000)) * env * 0.5)


def hat(rng: np.random.Generator, tau: float = 0.035) -> np.ndarray:
    """Metallic hat: six detuned squares (the TR-808 recipe) plus noise, high-passed."""
    n = int(max(0.2, tau * 6) * SR)
    t = np.arange(n) / SR
    metal = sum(np.sign(np.sin(TAU * f * t + rng.uniform(0, TAU))) for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0))
    mix = fft_filter(metal / 6.0 + 0.8 * rng.standard_normal(n), highpass(7000, 3))
    return tail_off(mix * decay_env(n, tau, 0.0005) * 0.8)


def shaker(rng: np.random.Generator) -> np.ndarray:
    n = int(0.15 * SR)
    t = np.arange(n) / SR
    env = np.minimum(1.0, t / 0.012) * np.exp(-t / 0.04)
    return tail_off(noise(n, rng, bandpass(5000, 12000)) * env * 0.3)


def woodblock(rng: np.random.Generator, freq: float = 1100.0) -> np.ndarray:
    n = int(0.2 * SR)
    t = np.arange(n) / SR
    tone = np.sin(TAU * freq * t) + 0.4 * np.sin(TAU * freq * 2.3 * t)
    return tail_off(tone * decay_env(n, 0.018, 0.0005) * 0.6)


def taiko(rng: np.random.Generator, low: float = 50.0, tau: float = 0.7) -> np.ndarray:
    n = int(2.0 * SR)
    t = np.arange(n) / SR
    freq = low + 30.0 * np.exp(-t / 0.05)
    body = np.sin(TAU * np.cumsum(freq) / SR) * decay_env(n, tau, 0.002)
    skin = noise(n, rng, bandpass(80, 1200)) * decay_env(n, 0.06, 0.001)
    return tail_off(np.tanh(1.3 * (body + 0.35 * skin)))


def tom(rng: np.random.Generator, low: float = 95.0) -> np.ndarray:
    n = int(0.8 * SR)
    t = np.arange(n) / SR
    freq = low + 40.0 * np.exp(-t / 0.04)
    body = np.sin(TAU * np.cumsum(freq) / SR) * decay_env(n, 0.22, 0.001)
    return tail_off(body + 0.2 * noise(n, rng, bandpass(200, 3000)) * decay_env(n, 0.03, 0.001))


def cymbal(rng: np.random.Generator, tau: float = 1.3) -> np.ndarray:
    n = int(min(6 * tau, 4.0) * SR)
    t = np.arange(n) / SR
    metal = sum(np.sin(TAU * f * t + rng.uniform(0, TAU)) for f in rng.uniform(3000, 9000, 24))
    mix = fft_filter(metal / 8.0 + rng.standard_normal(n), highpass(3500, 2))
    return tail_off(mix * decay_env(n, tau, 0.001) * 0.35)


def swell(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A reversed-cymbal rise that ends exactly on the next downbeat."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    rise = np.exp((t - seconds) / (seconds / 4))
    return np.stack([noise(n, rng, highpass(3000)), noise(n, rng, highpass(3000))]) * rise * 0.25


# ---------------------------------------------------------------- reverb (Freeverb topology)

_COMBS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)  # samples at 44.1 kHz (Jezar's tuning)
_ALLPASSES = (556, 441, 341, 225)
_SPREAD = 23  # extra samples on the right channel: decorrelates left and right tails


def _comb(x: np.ndarray, delay: int, feedback: float, damp: float) -> np.ndarray:
    # y[n] = x[n] + feedback * ((1 - damp) * y[n-D] + damp * y[n-D-1]); the two-tap average in
    # the loop damps highs every pass. Vectorised in blocks of D samples: a block needs only
    # samples from earlier blocks.
    n = len(x)
    off = delay + 1
    y = np.zeros(n + off)
    for s in range(0, n, delay):
        e = min(s + delay, n)
        y[off + s:off + e] = x[s:e] + feedback * (
            (1.0 - damp) * y[off + s - delay:off + e - delay] + damp * y[off + s - delay - 1:off + e - delay - 1]
        )
    return y[off:]


def _allpass(x: np.ndarray, delay: int, gain: float = 0.5) -> np.ndarray:
    # Freeverb's allpass: v[n] = x[n] + g v[n-D];  y[n] = v[n-D] - x[n].
    n = len(x)
    v = np.zeros(n + delay)
    for s in range(0, n, delay):
        e = min(s + delay, n)
        v[delay + s:delay + e] = x[s:e] + gain * v[s:e]
    return v[:n] - x


def reverb(send: np.ndarray, room: float = 0.8, damp: float = 0.3, width: float = 1.0,
           predelay: float = 0.02) -> np.ndarray:
    """Stereo wet signal (2×n) for a stereo send; room 0..1 sets the decay (~1 to ~4 s)."""
    scale = SR / 44_100
    feedback = 0.7 + 0.28 * room
    mono = fft_filter(send.mean(axis=0), bandpass(180, 9000, 1))  # no mud, no fizz in the tail
    mono = np.concatenate([np.zeros(int(predelay * SR)), mono])[: send.shape[1]]
    outs = []
    for extra in (0, _SPREAD):
        acc = sum(_comb(mono, int((d + extra) * scale), feedback, damp) for d in _COMBS)
        for d in _ALLPASSES:
            acc = _allpass(acc, int((d + extra) * scale))
        outs.append(acc / len(_COMBS))
    # Parallel combs add up coherently at low frequencies (gain varies with the room size and
    # between the two channels' tunings): give each channel the send's level, so `wet` in the
    # mix means "reverb level relative to the dry send".
    level = math.sqrt(float(np.mean(mono**2))) + 1e-12
    left, right = (out * level / (math.sqrt(float(np.mean(out**2))) + 1e-12) for out in outs)
    wet1, wet2 = (1 + width) / 2, (1 - width) / 2
    return np.stack([wet1 * left + wet2 * right, wet1 * right + wet2 * left])


# ---------------------------------------------------------------- arrangement

class Song:
    """A score rendered into named stereo buses plus a reverb send, one period of a loop."""

    def __init__(self, bpm: float, beats_per_bar: int, bars: int, seed: int,
                 swing: float = 0.0, swing_unit: float = 0.5, tail: float = 8.0):
        self.bpm, self.beats_per_bar, self.bars = bpm, beats_per_bar, bars
        self.seconds_per_beat = 60.0 / bpm
        self.swing, self.swing_unit = swing, swing_unit
        self.loop_samples = int(round(bars * beats_per_bar * self.seconds_per_beat * SR))
        self.n = self.loop_samples + int(tail * SR)  # room for release tails, wrapped at the end
        self.buses: dict[str, np.ndarray] = {}
        self.send = np.zeros((2, self.n), dtype=np.float32)
        self.rng = np.random.default_rng(seed)
        self._cache: dict[tuple, np.ndarray] = {}

    @property
    def duration(self) -> float:
        return self.loop_samples / SR

    def start(self, beat: float, humanize: float = 0.0) -> int:
        """Sample index of a beat; swung off-beats are delayed by swing × unit."""
        pos = beat / self.swing_unit
        k = math.floor(pos + 1e-9)
        if self.swing and k % 2 == 1 and abs(pos - k) < 1e-6:
            beat += self.swing * self.swing_unit
        seconds = beat * self.seconds_per_beat
        if humanize:
            seconds += float(self.rng.normal(0.0, humanize))
        return max(0, int(round(seconds * SR)))

    def add(self, bus: str, signal: np.ndarray, at: int, position: float = 0.0, gain: float = 1.0,
            send: float = 0.0) -> None:
        if signal.ndim == 1:
            stereo = pan(signal, position)
        else:
            angle = (position + 1.0) * math.pi / 4.0
            stereo = signal * (np.array([[math.cos(angle)], [math.sin(angle)]]) * math.sqrt(2.0))
        buffer = self.buses.setdefault(bus, np.zeros((2, self.n), dtype=np.float32))
        end = min(self.n, at + stereo.shape[1])
        if end <= at:
            return
        chunk = stereo[:, : end - at] * gain
        buffer[:, at:end] += chunk
        if send:
            self.send[:, at:end] += chunk * send

    def play(self, bus: str, instrument: Callable[..., np.ndarray], beat: float, note: str | int,
             beats: float, vel: float = 0.8, position: float = 0.0, send: float = 0.2,
             legato: float = 0.95, humanize: float = 0.0, delay: float = 0.0, **kwargs: float) -> None:
        """Play one note; `delay` (s) shifts it off the grid (a strum) without losing the swing."""
        n_on = max(64, int(beats * legato * self.seconds_per_beat * SR))
        vel = float(np.clip(vel, 0.05, 1.0))
        key = (instrument.__name__, midi(note), n_on, round(vel, 2), tuple(sorted(kwargs.items())))
        if key not in self._cache:
            self._cache[key] = instrument(hz(midi(note)), n_on, vel, **kwargs).astype(np.float32)
        self.add(bus, self._cache[key], self.start(beat, humanize) + int(delay * SR), position, 1.0, send)

    def hit(self, bus: str, sample: np.ndarray, beat: float, gain: float = 1.0, position: float = 0.0,
            send: float = 0.1, humanize: float = 0.0) -> None:
        self.add(bus, sample, self.start(beat, humanize), position, gain, send)

    def melody(self, bus: str, instrument: Callable[..., np.ndarray], text: str, first_bar: int = 0,
               transpose: int = 0, **kwargs) -> None:
        """Play 'E5:1 r:0.5 D5:0.5 | ...' (note:beats, r = rest); bars are checked for length."""
        beat = first_bar * self.beats_per_bar
        for bar_index, bar in enumerate(text.split("|")):
            length = 0.0
            for token in bar.split():
                name, beats_text = token.split(":")
                beats = float(beats_text)
                if name != "r":
                    self.play(bus, instrument, beat + length, midi(name) + transpose, beats, **kwargs)
                length += beats
            if abs(length - self.beats_per_bar) > 1e-6:
                raise ValueError(f"bar {first_bar + bar_index + 1} of a melody has {length} beats: {bar.strip()!r}")
            beat += self.beats_per_bar

    def mix(self, gains: dict[str, float], room: float, wet: float, damp: float = 0.3) -> np.ndarray:
        """Sum the buses and the reverb, then wrap everything past the loop onto its start."""
        out = np.zeros((2, self.n))
        for bus, buffer in self.buses.items():
            out += buffer * gains.get(bus, 1.0)
        out += reverb(self.send.astype(np.float64), room=room, damp=damp) * wet
        return wrap(out, self.loop_samples)


def wrap(signal: np.ndarray, length: int) -> np.ndarray:
    """Fold a render of length + tail into one period: the tail sounds under the loop's start."""
    period = signal[:, :length].copy()
    rest = signal[:, length:]
    while rest.shape[1]:
        k = min(length, rest.shape[1])
        period[:, :k] += rest[:, :k]
        rest = rest[:, k:]
    return period


# ---------------------------------------------------------------- the tracks

@dataclass(frozen=True)
class TrackSpec:
    id: str
    name_zh: str
    name_en: str
    mood: str
    render: Callable[[], tuple[np.ndarray, float]]  # -> (2×n float audio, bpm)


def render_calm() -> tuple[np.ndarray, float]:
    """Ambient in D major, 80 bpm, 16 bars (48 s): pad, sub bass, a glassy melody, sparkles."""
    song = Song(bpm=80, beats_per_bar=4, bars=16, seed=11, tail=9.0)
    chords = [  # two bars each; the last, A, leads back to D
        (["F#3", "A3", "C#4", "E4"], "D2"), (["F#3", "A3", "C#4", "D4"], "B1"),
        (["F#3", "A3", "B3", "D4"], "G1"), (["E3", "A3", "B3", "C#4"], "A1"),
        (["F#3", "A3", "C#4", "E4"], "D2"), (["E3", "A3", "C#4", "F#4"], "F#1"),
        (["F#3", "A3", "B3", "D4"], "G1"), (["E3", "A3", "C#4", "E4"], "A1"),
    ]
    for index, (voicing, root) in enumerate(chords):
        beat = index * 8
        for voice, note in enumerate(voicing):
            song.play("pad", pad, beat, note, 8, vel=0.55, position=-0.6 + 0.4 * voice, send=0.5, legato=1.0)
        song.play("bass", bass_round, beat, midi(root) + 12, 8, vel=0.5, send=0.05, legato=0.98)
    tune = (
        "A4:1.5 D5:0.5 F#5:2 | E5:2 D5:1 A4:1 | B4:1.5 D5:0.5 F#5:2 | C#5:3 r:1 |"
        "B4:1 D5:1 G5:2 | F#5:2 E5:1 D5:1 | E5:3 A4:1 | C#5:3 r:1 |"
        "A4:1.5 D5:0.5 F#5:2 | A5:2 F#5:1 E5:1 | C#5:1.5 E5:0.5 A5:2 | F#5:3 r:1 |"
        "G5:1.5 F#5:0.5 E5:1 D5:1 | B4:2 D5:2 | E5:2 D5:1 B4:1 | C#5:2 E5:1 A4:1"
    )
    song.melody("melody", glass, tune, vel=0.6, send=0.45, legato=1.0, position=0.1)
    song.melody("melody", music_box, tune, transpose=12, vel=0.12, send=0.6, position=-0.3)
    # Sparkles: chord tones two octaves up on a dotted-quarter grid, panned from side to side.
    pentatonic = [midi(n) for n in ("D6", "E6", "F#6", "A6", "B6", "D7")]
    step = 2
    for k in range(int(16 * 4 / 1.5)):
        step = int(np.clip(step + song.rng.choice([-2, -1, 1, 2]), 0, len(pentatonic) - 1))
        if song.rng.random() < 0.7:
            song.play("sparkle", glass, 1.5 * k, pentatonic[step], 1.0, vel=0.2 + 0.1 * song.rng.random(),
                      position=0.7 if k % 2 else -0.7, send=0.8)
    air = noise(song.n, song.rng, bandpass(3000, 12000, 1)) * 0.004
    song.add("air", air, 0, send=0.0)
    return song.mix({"pad": 0.55, "bass": 0.9, "melody": 0.7, "sparkle": 0.45, "air": 1.0}, room=0.9, wet=0.9, damp=0.35), song.bpm


def render_upbeat() -> tuple[np.ndarray, float]:
    """Pop in G major, 118 bpm, 24 bars: I-V-vi-IV, four-on-the-floor chorus, a pumping pad."""
    song = Song(bpm=118, beats_per_bar=4, bars=24, seed=22, tail=4.0)
    rng = np.random.default_rng(2201)
    voicings = [["G3", "B3", "D4", "G4"], ["F#3", "A3", "D4", "F#4"], ["G3", "B3", "E4", "G4"], ["G3", "C4", "E4", "G4"]]
    roots = ["G2", "D2", "E2", "C2"]
    kicks = [kick(rng) for _ in range(2)]
    snares, claps = [snare(rng, 0.12) for _ in range(2)], [clap(rng) for _ in range(2)]
    closed, opened = [hat(rng, 0.03) for _ in range(3)], [hat(rng, 0.22) for _ in range(2)]
    crash = cymbal(rng)
    for bar in range(24):
        b0 = bar * 4
        chorus = 8 <= bar < 16
        chord = bar % 4
        # Chords: the 3-3-2 stab rhythm on a bright pluck.
        for offset, length in ((0, 1.5), (1.5, 1.5), (3, 1.0)):
            for voice, note in enumerate(voicings[chord]):
                song.play("keys", pluck, b0 + offset, note, length * 0.6, vel=0.55, position=-0.4 + 0.27 * voice, send=0.15)
        # Bass: driving eighths with octave jumps.
        root = midi(roots[chord])
        for i, step in enumerate((0, 0, 12, 0, 0, 0, 7, 12)):
            song.play("bass", bass_pluck, b0 + 0.5 * i, root + step, 0.4, vel=0.75 if i % 2 == 0 else 0.6, send=0.0)
        # Drums.
        kick_beats = (0, 1, 2, 3) if chorus else (0, 1.5, 2, 3.5 if bar % 2 else 2.75)
        for k in kick_beats:
            song.hit("drums", kicks[bar % 2], b0 + k, gain=0.9)
        for k in (1, 3):
            song.hit("drums", snares[bar % 2], b0 + k, gain=0.45, send=0.15)
            song.hit("drums", claps[(bar + k) % 2], b0 + k, gain=0.5, position=0.1, send=0.2)
        for i in range(8):
            sample = opened[i % 2] if chorus and i % 2 else closed[i % 3]
            song.hit("drums", sample, b0 + 0.5 * i, gain=0.28 if i % 2 else 0.2, position=0.35)
        if bar in (0, 8, 16):
            song.hit("drums", crash, b0, gain=0.4, position=-0.3, send=0.2)
        if chorus:
            for voice, note in enumerate(voicings[chord]):
                song.play("pad", pad, b0, midi(note) + 12, 4, vel=0.5, position=-0.5 + 0.33 * voice, send=0.3, legato=1.0, brightness=0.6)
    # The last bar's second half: a snare roll that lands on bar 1.
    for i in range(8):
        song.hit("drums", snares[i % 2], 23 * 4 + 2 + 0.25 * i, gain=0.2 + 0.04 * i, send=0.15)
    verse = (
        "B4:0.5 D5:0.5 r:0.5 D5:0.5 E5:0.5 D5:0.5 B4:0.5 G4:0.5 | A4:1 F#4:0.5 A4:0.5 r:1 D5:1 |"
        "B4:0.5 G4:0.5 r:0.5 B4:0.5 E5:1 D5:0.5 B4:0.5 | C5:1.5 B4:0.5 A4:1 G4:1 |"
        "B4:0.5 D5:0.5 r:0.5 D5:0.5 E5:0.5 D5:0.5 G5:1 | F#5:1 E5:0.5 D5:0.5 r:1 A4:1 |"
        "B4:0.5 E5:0.5 r:0.5 E5:0.5 G5:1 F#5:0.5 E5:0.5 | E5:1 D5:1 C5:1 A4:1"
    )
    chorus_tune = (
        "G5:1 G5:0.5 F#5:0.5 G5:1 D5:1 | F#5:1 F#5:0.5 E5:0.5 F#5:1 A5:1 |"
        "G5:1 G5:0.5 F#5:0.5 E5:1 B4:1 | C5:0.5 E5:0.5 G5:1 E5:1 D5:1 |"
        "G5:1 G5:0.5 F#5:0.5 G5:1 B5:1 | A5:1.5 F#5:0.5 D5:1 E5:1 |"
        "G5:1 F#5:0.5 E5:0.5 D5:1 B4:1 | C5:1 E5:1 D5:2"
    )
    song.melody("lead", lead, verse, 0, vel=0.6, send=0.2, legato=0.85)
    song.melody("lead", lead, chorus_tune, 8, vel=0.7, send=0.25, legato=0.85)
    song.melody("lead", lead, verse, 16, vel=0.6, send=0.2, legato=0.85)
    song.melody("glock", glockenspiel, verse, 16, transpose=12, vel=0.35, send=0.3, position=0.4)
    # Side-chain pump: the pad ducks on every beat, the classic dance-pop breathing.
    beat_len = song.seconds_per_beat * SR
    phase = (np.arange(song.n) % beat_len) / beat_len
    song.buses["pad"] *= (0.35 + 0.65 * np.minimum(1.0, phase / 0.45) ** 2).astype(np.float32)
    return song.mix({"keys": 0.55, "bass": 0.4, "drums": 0.75, "lead": 0.55, "pad": 0.35, "glock": 0.5}, room=0.55, wet=0.6), song.bpm


def render_epic() -> tuple[np.ndarray, float]:
    """Cinematic in D minor, 90 bpm, 16 bars: galloping strings, taiko, brass and a horn theme."""
    song = Song(bpm=90, beats_per_bar=4, bars=16, seed=33, tail=8.0)
    rng = np.random.default_rng(3301)
    progression = ["Dm", "Bb", "F", "C"] * 3 + ["Dm", "Bb", "C", "A"]
    roots = {"Dm": "D2", "Bb": "Bb1", "F": "F2", "C": "C2", "A": "A1"}
    voicings = {
        "Dm": ["D3", "A3", "D4", "F4"], "Bb": ["D3", "Bb3", "D4", "F4"], "F": ["C3", "A3", "C4", "F4"],
        "C": ["C3", "G3", "C4", "E4"], "A": ["C#3", "A3", "C#4", "E4"],
    }
    drums = [taiko(rng) for _ in range(2)]
    small = [taiko(rng, low=75.0, tau=0.35) for _ in range(2)]
    toms = [tom(rng, f) for f in (140.0, 110.0, 90.0)]
    crash = cymbal(rng, 2.0)
    for bar, name in enumerate(progression):
        b0 = bar * 4
        root = midi(roots[name])
        # Gallop ostinato (eighth + two sixteenths) in low strings, doubled at the octave.
        for beat in range(4):
            for offset, length, vel in ((0, 0.5, 0.85), (0.5, 0.25, 0.65), (0.75, 0.25, 0.7)):
                for octave in (12, 24):
                    song.play("ostinato", strings, b0 + beat + offset, root + octave, length, vel=vel,
                              position=-0.3 if octave == 12 else 0.3, send=0.2, attack=0.008)
        for voice, note in enumerate(voicings[name]):
            song.play("strings", strings, b0, note, 4, vel=0.55, position=-0.6 + 0.4 * voice, send=0.45, legato=1.02)
        if bar >= 4:
            for voice, note in enumerate(voicings[name][1:]):
                song.play("brass", brass, b0, note, 4, vel=0.5 if bar < 8 else 0.6, position=-0.3 + 0.3 * voice, send=0.4, legato=0.97)
        for k, sample, gain in ((0, drums, 0.95), (1.5, small, 0.5), (2, drums, 0.7), (3, small, 0.45), (3.5, small, 0.4)):
            song.hit("drums", sample[bar % 2], b0 + k, gain=gain, position=0.15 * ((bar + int(k)) % 3 - 1), send=0.35)
        if bar in (0, 8):
            song.hit("drums", crash, b0, gain=0.5, send=0.3)
    for first in (30, 62):  # sixteenth-note tom fills in the second half of bars 8 and 16
        for i in range(8):
            song.hit("drums", toms[min(2, i // 3)], first + 0.25 * i, gain=0.5 + 0.05 * i, position=0.4 - 0.1 * i, send=0.3)
    song.add("drums", swell(rng, 2 * song.seconds_per_beat), song.start(62), gain=1.0, send=0.3)
    violins = (
        "A4:4 | Bb4:2 D5:2 | C5:4 | E5:2 C5:2 |"
        "D5:4 | D5:2 F5:2 | F5:3 E5:1 | E5:2 G5:2"
    )
    horn_theme = (
        "D4:1.5 E4:0.5 F4:1 A4:1 | Bb4:3 A4:1 | A4:1.5 G4:0.5 F4:1 C5:1 | C5:2 G4:2 |"
        "D5:1.5 C5:0.5 A4:1 F4:1 | Bb4:1.5 A4:0.5 G4:1 F4:1 | E4:1.5 F4:0.5 G4:1 C5:1 | C#5:2 E5:2"
    )
    song.melody("violins", strings, violins, 0, vel=0.5, send=0.5, legato=1.0, position=-0.2, attack=0.3)
    song.melody("horns", brass, horn_theme, 8, vel=0.85, send=0.4, legato=0.95, position=0.1)
    song.melody("violins", strings, horn_theme, 8, transpose=12, vel=0.45, send=0.5, legato=1.0, position=-0.2, attack=0.15)
    return song.mix({"ostinato": 0.35, "strings": 0.5, "brass": 0.45, "drums": 0.9, "violins": 0.4, "horns": 0.6}, room=0.85, wet=0.7), song.bpm


def render_playful() -> tuple[np.ndarray, float]:
    """Bouncy C major, 108 bpm, 16 bars, swung eighths: marimba tune, pizzicato bass, strummed
    plucks, woodblock and shaker; the last bar's G7 run resolves onto bar 1."""
    song = Song(bpm=108, beats_per_bar=4, bars=16, seed=44, swing=0.17, tail=4.0)
    rng = np.random.default_rng(4401)
    progression = ["C", "Am", "Dm", "G7", "C", "Am", "Dm", "G7", "F", "G", "Em", "Am", "Dm", "G7", "C", "G7"]
    voicings = {
        "C": ["G3", "C4", "E4", "G4"], "Am": ["A3", "C4", "E4", "A4"], "Dm": ["A3", "D4", "F4", "A4"],
        "G7": ["G3", "B3", "D4", "F4"], "G": ["G3", "B3", "D4", "G4"], "F": ["A3", "C4", "F4", "A4"],
        "Em": ["G3", "B3", "E4", "G4"],
    }
    roots = {"C": "C2", "Am": "A1", "Dm": "D2", "G7": "G1", "G": "G1", "F": "F1", "Em": "E2"}
    blocks = [woodblock(rng, f) for f in (1100.0, 850.0)]
    shakes = [shaker(rng) for _ in range(3)]
    kicks = [kick(rng, low=55.0, punch=90.0, tau=0.18)]
    for bar, name in enumerate(progression):
        b0 = bar * 4
        root = midi(roots[name])
        nxt = midi(roots[progression[(bar + 1) % len(progression)]])
        for beat, note, length in ((0, root + 12, 1), (2, root + 19, 1), (3, root + 12, 0.5), (3.5, nxt + 11, 0.5)):
            song.play("bass", pizzicato, b0 + beat, note, length, vel=0.8, send=0.1)
        for offset, direction in ((0, 1), (1, 1), (1.5, -1), (2.5, -1), (3, 1), (3.5, -1)):
            notes = voicings[name] if direction > 0 else voicings[name][::-1]
            for voice, note in enumerate(notes):
                song.play("uke", pluck, b0 + offset, note, 0.45, vel=(0.5 if offset == int(offset) else 0.38),
                          position=0.35, send=0.15, delay=0.012 * voice)
        for k in (0, 2):
            song.hit("drums", kicks[0], b0 + k, gain=0.6, send=0.0)
        for k in (1, 3):
            song.hit("drums", blocks[k // 2], b0 + k, gain=0.35, position=-0.4, send=0.2)
        for i in range(8):
            song.hit("drums", shakes[i % 3], b0 + 0.5 * i, gain=0.5 if i % 2 else 0.3, position=0.5, send=0.05)
    tune = (
        "E5:0.5 G5:0.5 r:0.5 E5:0.5 C5:1 G4:1 | A4:0.5 C5:0.5 E5:0.5 A5:0.5 G5:1 E5:1 |"
        "F5:0.5 E5:0.5 D5:0.5 A4:0.5 D5:1 F5:1 | G5:1 F5:0.5 D5:0.5 B4:1 G4:1 |"
        "E5:0.5 G5:0.5 r:0.5 E5:0.5 C6:1 G5:1 | A5:0.5 G5:0.5 E5:0.5 C5:0.5 A4:1 C5:1 |"
        "D5:0.5 F5:0.5 A5:0.5 F5:0.5 E5:1 D5:1 | B4:0.5 D5:0.5 F5:0.5 D5:0.5 G5:1 r:1 |"
        "A5:1 G5:0.5 F5:0.5 C5:1 A4:1 | B4:0.5 D5:0.5 G5:0.5 D5:0.5 B5:1 G5:1 |"
        "G5:1 E5:0.5 B4:0.5 E5:1 G5:1 | A5:1.5 G5:0.5 E5:1 C5:1 |"
        "D5:0.5 E5:0.5 F5:0.5 A5:0.5 D6:1 A5:1 | B5:0.5 A5:0.5 G5:0.5 F5:0.5 D5:1 B4:1 |"
        "C5:0.5 E5:0.5 G5:0.5 C6:0.5 G5:1 E5:1 | D5:0.5 E5:0.5 F5:0.5 G5:0.5 B5:0.5 A5:0.5 G5:0.5 F5:0.5"
    )
    song.melody("marimba", marimba, tune, vel=0.85, send=0.2, position=-0.15)
    second_half = "|".join(tune.split("|")[8:])
    song.melody("glock", glockenspiel, second_half, 8, transpose=12, vel=0.3, send=0.3, position=0.3)
    return song.mix({"bass": 0.6, "uke": 0.35, "drums": 0.7, "marimba": 0.75, "glock": 0.4}, room=0.5, wet=0.5), song.bpm


def render_nostalgic() -> tuple[np.ndarray, float]:
    """A gentle waltz in F major, 90 bpm in 3/4, 24 bars: music box and piano, a soft string bed
    in the middle, a borrowed minor iv (Bbm) for the bittersweet turn, C7 leading home."""
    song = Song(bpm=90, beats_per_bar=3, bars=24, seed=55, tail=7.0)
    progression = [
        "F", "Dm", "Bb", "C7", "F", "Am", "Bb", "C7",
        "Dm", "Am", "Bb", "F", "Gm7", "C7", "F", "F",
        "F", "Dm", "Bb", "Bbm", "F/A", "Gm7", "C7", "C7",
    ]
    bass = {"F": "F2", "Dm": "D2", "Bb": "Bb1", "C7": "C2", "Am": "A1", "Gm7": "G1", "Bbm": "Bb1", "F/A": "A1"}
    upper = {
        "F": ["A3", "C4", "F4"], "Dm": ["A3", "D4", "F4"], "Bb": ["Bb3", "D4", "F4"], "C7": ["Bb3", "C4", "E4"],
        "Am": ["A3", "C4", "E4"], "Gm7": ["Bb3", "D4", "F4"], "Bbm": ["Bb3", "Db4", "F4"], "F/A": ["A3", "C4", "F4"],
    }
    for bar, name in enumerate(progression):
        b0 = bar * 3
        song.play("piano", piano, b0, bass[name], 1.0, vel=0.55, position=-0.2, send=0.3, humanize=0.004)
        for beat in (1, 2):
            for note in upper[name]:
                song.play("piano", piano, b0 + beat, note, 0.9, vel=0.32, position=0.05, send=0.3, humanize=0.004)
        if 8 <= bar < 20:
            for voice, note in enumerate(upper[name]):
                song.play("strings", strings, b0, midi(note), 3, vel=0.4, position=-0.5 + 0.5 * voice, send=0.5, legato=1.02, attack=0.6)
    tune = (
        "A4:2 C5:1 | F5:2 E5:1 | D5:2 C5:1 | Bb4:3 |"
        "A4:2 C5:1 | E5:2 D5:1 | D5:1 F5:1 D5:1 | C5:3 |"
        "D5:1 E5:1 F5:1 | E5:2 C5:1 | D5:1 C5:1 Bb4:1 | A4:3 |"
        "Bb4:1 C5:1 D5:1 | E5:2 G5:1 | F5:2 E5:1 | C5:3 |"
        "A4:2 C5:1 | F5:2 A5:1 | G5:2 F5:1 | F5:2 Db5:1 |"
        "C5:2 A4:1 | Bb4:2 D5:1 | C5:1 E5:1 G5:1 | E5:1 D5:1 Bb4:1"
    )
    bars = tune.split("|")
    box_part = "|".join(bars[:8] + ["r:3"] * 8 + bars[16:])
    song.melody("box", music_box, box_part, transpose=12, vel=0.5, send=0.45, position=0.25, humanize=0.003)
    song.melody("lead", piano, tune, vel=0.5, send=0.35, position=0.1, legato=1.0, humanize=0.004)
    return song.mix({"piano": 0.7, "strings": 0.3, "box": 0.45, "lead": 0.6}, room=0.75, wet=0.7), song.bpm


def render_lofi() -> tuple[np.ndarray, float]:
    """Lo-fi hip hop, 80 bpm, 16 bars, swung sixteenths: jazzy Rhodes ii-V voicings, dusty
    boom-bap drums, vibes melody, tape wow and vinyl crackle; C7(b9) leads back to Fm9."""
    song = Song(bpm=80, beats_per_bar=4, bars=16, seed=66, swing=0.2, swing_unit=0.25, tail=4.0)
    rng = np.random.default_rng(6601)
    progression = ["Fm9", "Bb13", "Ebmaj9", "Cm9"] * 3 + ["Abmaj9", "G7b9", "Cm9", "C7b9"]
    voicings = {
        "Fm9": ["Ab3", "C4", "Eb4", "G4"], "Bb13": ["Ab3", "C4", "D4", "G4"], "Ebmaj9": ["G3", "Bb3", "D4", "F4"],
        "Cm9": ["Eb3", "G3", "Bb3", "D4"], "Abmaj9": ["C4", "Eb4", "G4", "Bb4"], "G7b9": ["F3", "B3", "Eb4", "Ab4"],
        "C7b9": ["E3", "Bb3", "Db4", "G4"],
    }
    roots = {"Fm9": "F2", "Bb13": "Bb1", "Ebmaj9": "Eb2", "Cm9": "C2", "Abmaj9": "Ab1", "G7b9": "G1", "C7b9": "C2"}
    kicks = [kick(rng, low=50.0, punch=80.0, tau=0.25) for _ in range(2)]
    snares = [snare(rng, tau=0.1, low=900.0) for _ in range(2)]
    hats = [hat(rng, 0.025) for _ in range(3)]
    for bar, name in enumerate(progression):
        b0 = bar * 4
        for offset, length in ((0, 2.5), (2.5, 1.5)):
            for voice, note in enumerate(voicings[name]):
                song.play("keys", epiano, b0 + offset, note, length, vel=0.45 + 0.1 * song.rng.random(),
                          position=-0.2 + 0.13 * voice, send=0.3, humanize=0.006, delay=0.012 * voice)
        root = midi(roots[name])
        song.play("bass", bass_round, b0, root + 12, 2.5, vel=0.8, send=0.0, legato=0.9)
        song.play("bass", bass_round, b0 + 2.5, root + (19 if bar % 2 else 12), 1.5, vel=0.7, send=0.0, legato=0.9)
        for k in (0, 1.75, 2.5):
            song.hit("drums", kicks[bar % 2], b0 + k, gain=0.8 if k == 0 else 0.6, humanize=0.004)
        for k in (1, 3):
            song.hit("drums", snares[(bar + k) % 2], b0 + k, gain=0.5, position=0.05, send=0.12, humanize=0.004)
        for i in range(16):
            if i % 2 == 0 or song.rng.random() < 0.3:
                song.hit("drums", hats[i % 3], b0 + 0.25 * i, gain=(0.22 if i % 4 == 0 else 0.15) * (1.0 if i % 2 == 0 else 0.6),
                         position=0.3, humanize=0.003)
    tune = (
        "r:0.5 G5:0.5 Ab5:0.5 C6:1.5 Bb5:1 | G5:2 F5:1 r:1 | r:0.5 Bb4:0.5 D5:0.5 F5:1.5 G5:1 | Eb5:3 r:1 |"
        "r:0.5 Ab5:0.5 G5:0.5 F5:0.5 Eb5:1 C5:1 | D5:1.5 F5:0.5 G5:2 | Bb5:1.5 G5:0.5 F5:1 D5:1 | Eb5:2 D5:1 C5:1 |"
        "r:4 | r:4 | r:4 | r:4 |"
        "G5:1.5 Eb5:0.5 C5:1 Bb4:1 | B4:1.5 D5:0.5 F5:1 Ab5:1 | G5:3 r:1 | Bb5:1 G5:1 E5:1 Db5:1"
    )
    song.melody("lead", vibes, tune, vel=0.55, send=0.35, legato=0.9, position=0.2, humanize=0.008)
    # Tape wow on the pitched parts: a slow wobble of the read position (±1.2 ms, 0.5 Hz), a
    # whole number of cycles per loop so the seam stays clean.
    cycles = round(song.duration * 0.5)
    t = np.arange(song.n)
    wobble = 0.0012 * SR * np.sin(TAU * cycles * t / song.loop_samples)
    for bus in ("keys", "lead"):
        for channel in range(2):
            song.buses[bus][channel] = np.interp(t - wobble, t, song.buses[bus][channel])
    mixed = song.mix({"keys": 0.6, "bass": 0.55, "drums": 0.7, "lead": 0.45}, room=0.6, wet=0.45, damp=0.5)
    mixed = fft_filter(mixed, lambda f: lowpass(6500, 1)(f) * highpass(35, 2)(f))  # worn tape: soft top, no rumble
    # Vinyl: a bed of hiss plus sparse crackles (~6 per second), at a low level.
    n = mixed.shape[1]
    crackle = np.zeros(n)
    spots = rng.integers(0, n - 200, int(6 * n / SR))
    for spot, amp in zip(spots, rng.uniform(0.02, 0.09, len(spots)) * rng.choice([-1, 1], len(spots))):
        crackle[spot:spot + 40] += amp * np.exp(-np.arange(40) / 6.0)
    crackle = fft_filter(crackle, highpass(1500, 1))
    hiss = noise(n, rng, bandpass(800, 9000, 1)) * 0.0025
    return mixed + np.stack([crackle + hiss, np.roll(crackle, 997) + np.roll(hiss, 4409)]), song.bpm


TRACKS = [
    TrackSpec("calm", "宁静", "Calm", "ambient, peaceful", render_calm),
    TrackSpec("upbeat", "轻快", "Upbeat", "pop, bright, energetic", render_upbeat),
    TrackSpec("epic", "史诗", "Epic", "cinematic, heroic", render_epic),
    TrackSpec("playful", "俏皮", "Playful", "bouncy, cheerful", render_playful),
    TrackSpec("nostalgic", "怀旧", "Nostalgic", "tender waltz, music box", render_nostalgic),
    TrackSpec("lofi", "低保真", "Lo-fi", "chill, jazzy, dusty", render_lofi),
]


# ---------------------------------------------------------------- mastering and measuring

# BS.1770 K-weighting at 48 kHz: a high shelf (+4 dB above ~1.5 kHz) and a ~38 Hz high-pass.
_K_SHELF = ([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241, 0.73248077421585])
_K_HIGHPASS = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])


def _biquad_response(coeffs: tuple[list[float], list[float]], freqs: np.ndarray) -> np.ndarray:
    b, a = coeffs
    z = np.exp(-1j * TAU * freqs / SR)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def loudness_lufs(audio: np.ndarray) -> float:
    """Integrated loudness (BS.1770-4: K-weighting, 400 ms blocks, absolute and relative gates)."""
    weighted = fft_filter(audio, lambda f: _biquad_response(_K_SHELF, f) * _biquad_response(_K_HIGHPASS, f))
    block, hop = int(0.4 * SR), int(0.1 * SR)
    energy = np.cumsum(np.concatenate([np.zeros((audio.shape[0], 1)), weighted**2], axis=1), axis=1)
    starts = np.arange(0, audio.shape[1] - block + 1, hop)
    power = ((energy[:, starts + block] - energy[:, starts]) / block).sum(axis=0)
    power = power[power > 10 ** ((-70 + 0.691) / 10)]
    if not len(power):
        return -math.inf
    relative = -0.691 + 10 * math.log10(power.mean()) - 10
    gated = power[power > 10 ** ((relative + 0.691) / 10)]
    return -0.691 + 10 * math.log10(gated.mean())


def limit(audio: np.ndarray, ceiling_dbfs: float) -> np.ndarray:
    """Peak limiter: per-2.5 ms block gains, min-filtered over neighbours and interpolated, so
    no sample exceeds the ceiling and the gain moves smoothly (no hard clipping)."""
    ceiling = 10 ** (ceiling_dbfs / 20)
    size = int(0.0025 * SR)
    n = audio.shape[1]
    blocks = math.ceil(n / size)
    padded = np.pad(np.abs(audio).max(axis=0), (0, blocks * size - n))
    gains = np.minimum(1.0, ceiling / np.maximum(padded.reshape(blocks, size).max(axis=1), 1e-9))
    for _ in range(4):  # widen the dips to ±4 blocks (10 ms) so gain changes are gentle
        gains = np.minimum(gains, np.minimum(np.roll(gains, 1), np.roll(gains, -1)))
    centres = np.arange(blocks) * size + size / 2
    return audio * np.interp(np.arange(n), centres, gains)


def master(audio: np.ndarray) -> np.ndarray:
    audio = audio - audio.mean(axis=1, keepdims=True)
    for _ in range(3):  # limiting lowers loudness slightly; converge in a couple of passes
        audio = audio * 10 ** ((TARGET_LUFS - loudness_lufs(audio)) / 20)
        audio = limit(audio, CEILING_DBFS)
    return audio


def analyse(audio: np.ndarray) -> dict[str, float]:
    """Numbers for 'listening': loudness, level, peak, band balance, spectral flatness, seam."""
    mono = audio.mean(axis=0)
    frame = 4096
    frames = mono[: len(mono) // frame * frame].reshape(-1, frame) * np.hanning(frame)
    psd = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / SR)
    total = psd[:, (freqs >= 20) & (freqs < 20000)].sum()
    band = {name: psd[:, (freqs >= lo) & (freqs < hi)].sum() / total for name, lo, hi in
            (("bass", 20, 250), ("mid", 250, 4000), ("high", 4000, 20000))}
    useful = (freqs >= 50) & (freqs < 16000)
    p = psd[:, useful] + 1e-20
    flatness = np.exp(np.log(p).mean(axis=1)) / p.mean(axis=1)
    windows = mono[: len(mono) // 4800 * 4800].reshape(-1, 4800)
    quietest = 10 * math.log10(max(1e-20, float((windows**2).mean(axis=1).min())))
    step = np.abs(np.diff(audio, axis=1))
    seam = float(np.abs(audio[:, 0] - audio[:, -1]).max() / (np.percentile(step, 99) + 1e-12))
    return {
        "lufs": loudness_lufs(audio),
        "rms_dbfs": 10 * math.log10(float((audio**2).mean())),
        "peak_dbfs": 20 * math.log10(float(np.abs(audio).max())),
        "bass_db": 10 * math.log10(band["bass"]),
        "mid_db": 10 * math.log10(band["mid"]),
        "high_db": 10 * math.log10(band["high"]),
        "flatness": float(np.median(flatness)),
        "quietest_100ms_dbfs": quietest,
        "seam_ratio": seam,
    }


def encode_opus(audio: np.ndarray, path: Path, title: str) -> None:
    interleaved = np.ascontiguousarray(audio.T, dtype=np.float32)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "f32le", "-ar", str(SR), "-ac", "2", "-i", "-",
        "-c:a", "libopus", "-b:a", OPUS_BITRATE, "-vbr", "on", "-application", "audio",
        "-metadata", f"title={title}", "-metadata", "artist=CogVideoX Studio", "-metadata", f"copyright={LICENSE}",
        "-fflags", "+bitexact", "-flags:a", "+bitexact", str(path),
    ]
    subprocess.run(cmd, input=interleaved.tobytes(), check=True)


def decode(path: Path) -> np.ndarray:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-f", "f32le", "-ac", "2", "-ar", str(SR), "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2).T.astype(np.float64)


def white_noise_reference() -> dict[str, float]:
    rng = np.random.default_rng(0)
    return analyse(rng.uniform(-0.5, 0.5, (2, 10 * SR)))


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"{'track':<12}{'LUFS':>7}{'RMS':>8}{'peak':>8}{'bass':>7}{'mid':>7}{'high':>7}{'flat':>8}{'min100ms':>10}{'seam':>7}")
    for name, m in rows:
        print(f"{name:<12}{m['lufs']:7.1f}{m['rms_dbfs']:8.1f}{m['peak_dbfs']:8.1f}{m['bass_db']:7.1f}{m['mid_db']:7.1f}"
              f"{m['high_db']:7.1f}{m['flatness']:8.4f}{m['quietest_100ms_dbfs']:10.1f}{m['seam_ratio']:7.2f}")
    print("(LUFS integrated BS.1770; RMS/peak dBFS; bass <250 Hz, mid 250 Hz-4 kHz, high >4 kHz in dB of total;"
          " flat = median spectral flatness per 85 ms frame; seam = loop-point jump / 99th-percentile sample step)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="track ids to render (default: all)")
    parser.add_argument("--check", action="store_true", help="only analyse the existing files")
    parser.add_argument("--wav", type=Path, help="also write float WAVs here, for listening")
    args = parser.parse_args(argv)
    MUSIC_DIR.mkdir(parents=True, exist_ok=True)
    index_path = MUSIC_DIR / "tracks.json"
    entries = {e["id"]: e for e in json.loads(index_path.read_text(encoding="utf-8"))} if index_path.exists() else {}
    chosen = [spec for spec in TRACKS if not args.only or spec.id in args.only]
    if not args.check:
        for spec in chosen:
            began = time.perf_counter()
            audio, bpm = spec.render()
            audio = master(audio)
            path = MUSIC_DIR / f"{spec.id}.ogg"
            encode_opus(audio, path, spec.name_en)
            if args.wav:
                args.wav.mkdir(parents=True, exist_ok=True)
                _write_wav(args.wav / f"{spec.id}.wav", audio)
            entries[spec.id] = {
                "id": spec.id, "name_zh": spec.name_zh, "name_en": spec.name_en, "mood": spec.mood,
                "bpm": bpm, "duration": round(audio.shape[1] / SR, 3), "file": path.name, "license": LICENSE,
            }
            print(f"rendered {spec.id}: {audio.shape[1] / SR:.2f} s, {path.stat().st_size / 1024:.0f} KiB "
                  f"in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        ordered = [entries[spec.id] for spec in TRACKS if spec.id in entries]
        index_path.write_text(json.dumps(ordered, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    rows = [(spec.id, analyse(decode(MUSIC_DIR / f"{spec.id}.ogg"))) for spec in chosen]
    rows.append(("white-noise", white_noise_reference()))
    print_table(rows)
    total = sum((MUSIC_DIR / f"{spec.id}.ogg").stat().st_size for spec in TRACKS if (MUSIC_DIR / f"{spec.id}.ogg").exists())
    print(f"total size of assets/music/*.ogg: {total / 1e6:.2f} MB")
    return 0


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import wave

    pcm = (np.clip(audio.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SR)
        out.writeframes(pcm.tobytes())


if __name__ == "__main__":
    sys.exit(main())
