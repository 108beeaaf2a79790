"""The job service: durable jobs in SQLite, lanes, users, and the workers that render them.

Never imports gradio or fastapi: the web UI, the REST API and the CLI all stand on it.
"""

from .errors import DataDirError, JobError, JobNotFound, QueueFull, RequestIdConflict, UserError
from .job import LANES, LOCAL_OWNER, STANDARD, STATUSES, VIP, Job
from .keys import ApiKey, ApiKeyError, ApiKeys, Principal
from .lock import DataDirLock
from .service import JobService, prune_jobs
from .store import JobStore, default_data_dir
from .users import Users
from .workers import LocalWorker

__all__ = [
    "ApiKey", "ApiKeyError", "ApiKeys", "DataDirError", "DataDirLock", "Job", "JobError",
    "JobNotFound", "JobService", "JobStore", "LANES", "LOCAL_OWNER", "LocalWorker", "Principal", "QueueFull",
    "RequestIdConflict", "STANDARD", "STATUSES", "UserError", "Users", "VIP", "default_data_dir", "prune_jobs",
]
