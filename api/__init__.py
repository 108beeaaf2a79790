"""The HTTP faces beside Gradio's UI: REST endpoints in Zhipu's shapes (智谱开放平台 video
generation), MCP tools, and the guards in front of Gradio's own routes (sign-in attempts, uploads,
Gradio's messages in ours: `signin.py`, `uploads.py`, `gradio_messages.py`).

Stands on the job service: API jobs are the same jobs, in the same lanes, listed in the same
我的作品. Never imports gradio components.
"""
