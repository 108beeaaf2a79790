"""The developer API: REST endpoints in Zhipu's shapes (智谱开放平台 video generation) and MCP tools.

Stands on the job service: API jobs are the same jobs, in the same lanes, listed in the same
我的作品. Never imports gradio components.
"""
