"""One loader for every planning domain: a shipped name, a guide-style YAML, a PDDL mapping, a PDDL file.

`load_domain("navigate_pick_place")` reads `harp/plan/domains/navigate_pick_place.yaml`; a path
reads that file. The file says which engine runs it (harp/plan/protocols.py has the contract both
keep):

- a PDDL file, whatever its name (`.pddl`, `.PDDL`, `.txt`: it opens with `(define`), read with
  defaults (one plan word per action): the fact engine (fact_domain.py);
- a YAML with a `pddl` key, the plan-language mapping of the PDDL file it names
  (domains/alfred.yaml): the fact engine;
- any other YAML, the guide's actions as preconditions and effects from its vocabulary
  (domains/drawers.yaml): the guide's engine (guide.py), specialised and faster.

Loading is cached per file: one domain object per file, so searches cached per (scene, domain) are shared.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from harp.errors import ConfigError
from harp.files import load_yaml, read_text
from harp.plan.fact_domain import FactDomain
from harp.plan.guide import GuideDomain
from harp.plan.pddl_domain import read_mapping, read_pddl
from harp.plan.protocols import Domain

DOMAINS_DIR = Path(__file__).parent / "domains"
SUFFIXES = (".yaml", ".yml", ".pddl")  # a name with one of these is a path, in any case (`.PDDL`)


def load_domain(name_or_path: str | os.PathLike | Domain = "navigate_pick_place") -> Domain:
    """A domain by name (a file under harp/plan/domains) or by path to a YAML or PDDL file; a domain
    is returned as it is. An unknown name or a broken file is one ConfigError line."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    # A path: a known suffix, or anything there but a folder (a FIFO or a device too: the reader
    # says what is wrong with it). Otherwise the name of a shipped domain.
    if not (path.suffix.lower() in SUFFIXES or (os.path.lexists(path) and not path.is_dir())):
        path = DOMAINS_DIR / f"{text}.yaml"
        if not path.is_file():
            known = ", ".join(available_domains())
            raise ConfigError(
                f"domain '{text}': no such domain (known: {known}; or give a path to a YAML or PDDL file)"
            )
    return _load_file(os.path.abspath(path))


def available_domains() -> list[str]:
    """Names of the domains shipped in harp/plan/domains (each loads with `load_domain(name)`)."""
    return sorted(p.stem for p in DOMAINS_DIR.glob("*.yaml"))


def _is_pddl(path: str, text: str) -> bool:
    """A PDDL file whatever its name (`.PDDL`, `.txt`): it opens with `(define`, a domain YAML never does."""
    opening = re.sub(r";[^\n]*", "", text).lstrip()
    return Path(path).suffix.lower() == ".pddl" or re.match(r"\(\s*define\b", opening, re.IGNORECASE) is not None


@lru_cache(maxsize=64)
def _load_file(path: str) -> Domain:
    text = read_text(path, "domain file")
    if _is_pddl(path, text):
        return FactDomain(read_pddl(path, text))
    data = load_yaml(path, text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'name' and 'actions'")
    if "pddl" in data:
        return FactDomain(read_mapping(path, data))
    return GuideDomain.from_yaml(path, data)
