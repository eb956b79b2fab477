"""Search the hub for GGUF models, and list what one repository offers.

The search is the hub's own model listing (``GET /api/models``, what
``HfApi.list_models`` calls) filtered to the ``gguf`` tag and sorted by downloads; each
item is read by huggingface_hub's ``ModelInfo``. A repository's files come from its tree
listing with their sizes; each ``.gguf`` becomes a `Quantisation`: its quantisation
name as the file name gives it, its size (a model split into ``-0000N-of-0000M`` parts
counts all its parts), and whether it fits in this machine's memory.

"Fits" is an estimate and says so: llama.cpp maps the whole file into memory and needs
room for the context and its working buffers on top, so a file fits when its size plus
`RUNTIME_HEADROOM` of it plus `RUNTIME_FLOOR_BYTES` is at most the physical memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from huggingface_hub.hf_api import ModelInfo

from app.core.machine import total_memory_bytes
from app.core.models.hub import ensure_online, hub_endpoint, hub_json
from app.core.models.hub_errors import HubServerError

SEARCH_LIMIT = 30
RUNTIME_HEADROOM = 0.2  # of the file: context (KV cache) and compute buffers, roughly
RUNTIME_FLOOR_BYTES = 512 * 2**20
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<parts>\d{5})\.gguf$", re.IGNORECASE)
# The quantisation names llama.cpp's tools write into file names, longest first.
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(I?Q[1-8]_(?:K_[SMLX]{1,2}|K|[0-9](?:_[0-9]+)*|XXS|XS|S|M|NL)|"
    r"TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|F32|FP16)(?![A-Za-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class HubModel:
    """One search result: a repository holding GGUF files."""

    repo: str
    downloads: int
    likes: int
    last_modified: datetime | None
    parameters: int | None  # from the hub's GGUF metadata, when it sends it


@dataclass(frozen=True)
class Quantisation:
    """One model file in a repository (all its parts, if split)."""

    filename: str  # the file to download (the first part of a split model)
    quant: str  # e.g. "Q4_K_M"; "" when the name does not say
    size: int  # bytes, all parts together
    parts: int
    fits: bool | None  # None: this machine's memory could not be read

    @property
    def needed_bytes(self) -> int:
        return needed_memory(self.size)


def needed_memory(size: int) -> int:
    """Memory a model file of ``size`` bytes needs to run, estimated (see module)."""
    return int(size * (1 + RUNTIME_HEADROOM)) + RUNTIME_FLOOR_BYTES


def search_models(query: str, limit: int = SEARCH_LIMIT) -> list[HubModel]:
    """GGUF repositories matching ``query``, most downloaded first."""
    ensure_online()
    params = {"search": query.strip(), "filter": "gguf", "sort": "downloads",
              "direction": "-1", "limit": str(limit)}  # fmt: skip
    url = f"{hub_endpoint()}/api/models?{urlencode(params)}"
    items = hub_json("GET", url, "the model search", None, "search result")
    if not isinstance(items, list):
        raise HubServerError("the hub sent a search result that is not a list")
    models = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        info = ModelInfo(**{"siblings": None, **item})
        gguf = item.get("gguf") if isinstance(item.get("gguf"), dict) else {}
        total = gguf.get("total") if isinstance(gguf, dict) else None
        models.append(HubModel(
            repo=info.id, downloads=info.downloads or 0, likes=info.likes or 0,
            last_modified=info.last_modified,
            parameters=total if isinstance(total, int) and total > 0 else None,
        ))  # fmt: skip
    return models


def repo_quantisations(repo: str, memory_bytes: int | None = None) -> list[Quantisation]:
    """The GGUF model files in ``repo``, smallest first, each with whether it fits in
    ``memory_bytes`` (default: this machine's physical memory)."""
    ensure_online()
    memory = total_memory_bytes() if memory_bytes is None else memory_bytes
    url = f"{hub_endpoint()}/api/models/{repo}/tree/main?recursive=true"
    items = hub_json("GET", url, repo, None, "file list")
    sizes: dict[str, int] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "file":
            path, size = item.get("path"), item.get("size")
            if isinstance(path, str) and path.lower().endswith(".gguf") and isinstance(size, int):
                sizes[path] = size
    return sorted(_group_parts(sizes, memory), key=lambda q: (q.size, q.filename))


def _group_parts(sizes: dict[str, int], memory: int | None) -> list[Quantisation]:
    groups: dict[str, list[str]] = {}
    for path in sizes:
        if _is_not_a_model(path):
            continue
        split = _SPLIT.match(path)
        groups.setdefault(split.group("stem") if split else path, []).append(path)
    found = []
    for stem, paths in groups.items():
        paths.sort()
        size = sum(sizes[p] for p in paths)
        fits = None if memory is None else needed_memory(size) <= memory
        found.append(Quantisation(paths[0], quant_name(stem), size, len(paths), fits))
    return found


def quant_name(filename: str) -> str:
    """The quantisation a file name gives (``model-Q4_K_M.gguf`` gives "Q4_K_M")."""
    name = filename.rsplit("/", 1)[-1]
    found = _QUANT.findall(name)
    return found[-1].upper() if found else ""


def _is_not_a_model(path: str) -> bool:
    # Vision projectors and imatrix data ship beside the models as .gguf too.
    name = path.rsplit("/", 1)[-1].lower()
    return name.startswith(("mmproj", "imatrix")) or "mmproj" in name


def repo_url(repo: str) -> str:
    return f"{hub_endpoint()}/{quote(repo, safe='/')}"
