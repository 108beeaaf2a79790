"""The engine: model variants as data, loading weights, the diffusers pipelines that render frames
(render.py), LoRA, speed presets and their caches, compile/fp8, attention kernels, the GPU share,
and the tiny random models for tests. It knows nothing of media files or catalogues."""
