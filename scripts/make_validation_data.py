#!/usr/bin/env python3
"""Builds the GPU validation datasets under data/validation/ from public measurements.

VALIDATION ONLY: nothing written here may be used to fit or calibrate the simulator's step-time model;
data/validation/README.md says what each file is, where it comes from and under which license.

Python 3 standard library only (plus the `git` command, to read the pinned commits of the public
repositories from their git directories). Output is deterministic: a rerun on the same inputs writes
byte-identical files (fixed row order, fixed number formats, "\\n" line ends, UTF-8).

Inputs (each one an argument; defaults below):
  --shared-data DIR        the project's shared data folder (default: ../shared/data beside the repository);
                           the next four default to paths inside it
  --blis-dir DIR           gpu/blis-vllm-0.11-requests (per_request_from_traces.csv, runs/<experiment>/...)
  --mlenergy-flat FILE     gpu/mlenergy-v2/llm_v2_flat.csv
  --llmservingsim-dir DIR  gpu/llmservingsim/vllm_throughput_h100 (measured *_throughput.tsv, *_config.json)
  --sharegpt-stats FILE    traces/sharegpt_8k_filtered_stats_llama2_tokenizer.csv (microsoft/sarathi-serve)
  --leaderboard-git DIR    git directory of ml-energy/leaderboard-v2 (commit c3af7f31 must be present)
  --human-eval-git DIR     git directory of openai/human-eval (commit 6d43fb98 must be present)
  --llmservingsim-git DIR  git directory of casys-kaist/LLMServingSim (tag ispass26-artifact, commit f4ab208c)
  --models FILE            the model catalog (default: data/models.yaml of this repository)
  --out DIR                output folder (default: data/validation of this repository)

When an input is missing the script says which, writes nothing and exits 0 (CI has none of these inputs).

Token counts of the ML.ENERGY prompts are ESTIMATES from character counts (no tokenizer here):
  chat (Llama 3.1 tokenizer):  user_tokens_est = round(chars / 4.42); prompt_tokens_est = user_tokens_est + 53
  code (Llama 2 / Code Llama): prompt_tokens_est = round(chars / 2.94) + 1 (the BOS token)
The ratios are the total characters / total tokens of these same prompts, counted once with the
llama3-tokenizer-js 1.2.0 and llama-tokenizer-js 1.2.2 npm packages (MIT), see data/validation/README.md;
53 is the number of tokens the Llama 3.1 chat template and the benchmark's system prompt add to a user message
(BOS, system header, "Cutting Knowledge Date" lines, system prompt, end of turn, user and assistant headers).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import re
import subprocess
import sys
from collections import OrderedDict
from decimal import Decimal

# ---- pinned sources ------------------------------------------------------------------------------------------------
LEADERBOARD_COMMIT = "c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2"   # ml-energy/leaderboard-v2
HUMAN_EVAL_COMMIT = "6d43fb980f9fee3c892a914eda09951f772ad10d"    # openai/human-eval
LLMSERVINGSIM_TAG = "refs/tags/ispass26-artifact"                   # casys-kaist/LLMServingSim
LLMSERVINGSIM_COMMIT = "f4ab208cf1db1c41a81401ed0e58752dfc960fb1"  # the commit that tag points to

SHAREGPT_500 = "benchmark/llm_text_generation/chat/sharegpt/ShareGPT_V3_filtered_500.json"
CHAT_CLIENT = "benchmark/llm_text_generation/chat/scripts/benchmark_client.py"
LEADERBOARD_DATA = "data/llm_text_generation"
HUMAN_EVAL_DATA = "data/HumanEval.jsonl.gz"
LSS_DATASET = "dataset/sharegpt_req300_rate10_llama.jsonl"
LSS_FIGURE = "evaluation/figure_5.sh"
LSS_ARTIFACT = "evaluation/artifacts/figure_5/H100"

# ---- token-count rules (see the module docstring and data/validation/README.md) -----------------------------------
CHAT_CHARS_PER_TOKEN = 4.42   # Llama 3 tokenizer, first turns of ShareGPT_V3_filtered_500 (measured: 4.419)
CHAT_TEMPLATE_TOKENS = 53     # Llama 3.1 chat template + the client's SYSTEM_PROMPT, BOS included
CODE_CHARS_PER_TOKEN = 2.94   # Llama 2 / Code Llama SentencePiece tokenizer, stripped HumanEval prompts (measured: 2.941)
CODE_BOS_TOKENS = 1           # the completions API prompt gets a BOS token
# The system prompt the chat client sends; the script checks it still reads so in the pinned client.
CHAT_SYSTEM_PROMPT = ("You are an artificial intelligence assistant that gives helpful answers to the user's "
                      "questions or instructions.")

N_OUTPUT_QUANTILES = 200
PREFIX_BLOCK = 16             # tokens per KV block (LLMServingSim --block-size 16; vLLM's default)

# ---- catalog mappings ----------------------------------------------------------------------------------------------
BLIS_MODELS = {  # served model -> catalog key of data/models.yaml
    "codellama/CodeLlama-34b-Instruct-hf": "CodeLlama-34B",
    "meta-llama/Llama-2-7b-hf": "Llama-2-7B",
}
MLENERGY_GPU = "NVIDIA H100 80GB HBM3"
MLENERGY_MODELS = OrderedDict([
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "Llama-3.1-8B"),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct", "Llama-3.1-70B"),
    ("meta-llama/Meta-Llama-3.1-405B-Instruct", "Llama-3.1-405B"),
    ("codellama/CodeLlama-7b-hf", "CodeLlama-7B"),
    ("codellama/CodeLlama-13b-hf", "CodeLlama-13B"),
    ("codellama/CodeLlama-34b-hf", "CodeLlama-34B"),
    ("codellama/CodeLlama-70b-hf", "CodeLlama-70B"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral-8x7B"),
])
# Mixtral-8x7B's run (SM) replays a Mixtral-tokenized request file that this script does not extract: not replayed.
LSS_MODELS = {"meta-llama/Llama-3.1-70B": "Llama-3.1-70B"}
LSS_CONFIGS = ["MD", "SD+PC", "PDD", "SM"]  # the measured ones (SD_config.json exists, SD_throughput.tsv does not)

UNKNOWN = "unknown"


class Warnings:
    items: list[str] = []

    @classmethod
    def add(cls, msg: str) -> None:
        cls.items.append(msg)
        print("warning:", msg, file=sys.stderr)


# ---- small helpers -------------------------------------------------------------------------------------------------
def git_show(gitdir: str, commit: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", gitdir, "show", f"{commit}:{path}"], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout


def git_has_commit(gitdir: str, commit: str) -> bool:
    try:
        r = subprocess.run(["git", "-C", gitdir, "cat-file", "-e", f"{commit}^{{commit}}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:  # no git command
        return False
    return r.returncode == 0


def git_resolve(gitdir: str, ref: str) -> str | None:
    r = subprocess.run(["git", "-C", gitdir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def ns_to_s(ns: int) -> str:
    """Exact decimal seconds with 9 decimals from integer nanoseconds (ns >= 0)."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def f9(text: str) -> str:
    return f"{float(text):.9f}"


def write_csv(path: str, header: list[str], rows: list[list]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(r)


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def catalog_keys(models_yaml: str) -> set[str]:
    keys = set()
    with open(models_yaml, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*):\s*(#.*)?$", line.rstrip("\n"))
            if m:
                keys.add(m.group(1))
    return keys


def simple_yaml(text: str) -> dict:
    """Flat `key: value` pairs of a small YAML file; nested keys are joined with '.' (two-space indentation)."""
    out, stack = {}, []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = (len(line) - len(line.lstrip(" "))) // 2
        key, _, value = line.strip().partition(":")
        stack = stack[:indent] + [key.strip()]
        if value.strip():
            out[".".join(stack)] = value.strip()
    return out


# ---- 1, 2: BLIS vLLM 0.11 runs -------------------------------------------------------------------------------------
def parse_vllm_log(text: str) -> dict:
    """Facts of the last engine launch in a vLLM 0.11 server log (earlier launches that failed are skipped)."""
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if "vLLM API server version" in l]
    launch = lines[starts[-1]:] if starts else lines
    info = {"launches": len(starts)}

    def find(pattern: str, last: bool = False):
        hits = [m for m in (re.search(pattern, l) for l in launch) if m]
        return (hits[-1] if last else hits[0]) if hits else None

    m = find(r"vLLM API server version (\S+)")
    info["vllm_version"] = m.group(1) if m else UNKNOWN
    m = find(r"non-default args: (\{.*\})$")
    info["non_default_args"] = m.group(1) if m else ""
    init = find(r"Initializing a V1 LLM engine \((v[^)]*)\) with config: (.*)$")
    cfg = init.group(2) if init else ""

    def cfg_field(name: str) -> str:
        mm = re.search(r"(?:^|, )" + re.escape(name) + r"=([^,]*)", cfg)
        return mm.group(1).strip("'") if mm else UNKNOWN

    info["served_model_name"] = cfg_field("served_model_name")
    info["tensor_parallel_size"] = cfg_field("tensor_parallel_size")
    info["pipeline_parallel_size"] = cfg_field("pipeline_parallel_size")
    info["dtype"] = cfg_field("dtype").replace("torch.", "")
    info["max_seq_len"] = cfg_field("max_seq_len")
    info["enable_prefix_caching"] = cfg_field("enable_prefix_caching")
    info["chunked_prefill_enabled"] = cfg_field("chunked_prefill_enabled")
    info["enforce_eager"] = cfg_field("enforce_eager")
    info["kv_cache_dtype"] = cfg_field("kv_cache_dtype")
    comp = re.search(r"compilation_config=(\{.*\})\s*$", cfg)
    cc = json.loads(comp.group(1)) if comp else {}
    sizes = cc.get("cudagraph_capture_sizes")
    info["cudagraph_capture_sizes"] = " ".join(str(s) for s in sizes) if sizes else UNKNOWN
    info["cudagraph_mode"] = json.dumps(cc["cudagraph_mode"], separators=(",", ":")) if "cudagraph_mode" in cc else UNKNOWN
    m = find(r"Using max model len (\d+)")
    info["max_model_len"] = m.group(1) if m else UNKNOWN
    m = find(r"Chunked prefill is enabled with max_num_batched_tokens=(\d+)")
    info["chunked_prefill_log_tokens"] = m.group(1) if m else UNKNOWN
    m = find(r"gpu_memory_utilization['=:\s]+([0-9.]+)")
    info["gpu_memory_utilization"] = m.group(1) if m else UNKNOWN
    m = find(r"GPU KV cache size: ([\d,]+) tokens")
    info["kv_cache_tokens"] = m.group(1).replace(",", "") if m else UNKNOWN
    m = find(r"num_gpu_blocks is: (\d+)")
    info["kv_cache_blocks"] = m.group(1) if m else UNKNOWN
    m = find(r"Available KV cache memory: ([0-9.]+) GiB")
    info["kv_cache_memory_gib"] = m.group(1) if m else UNKNOWN
    m = find(r"Model loading took ([0-9.]+) GiB")
    info["model_weights_gib"] = m.group(1) if m else UNKNOWN
    m = find(r"Using (.+?) backend on V1 engine")
    info["attention_backend"] = m.group(1) if m else UNKNOWN
    m = find(r"Prefix cache hit rate: ([0-9.]+)%", last=True)
    info["prefix_cache_hit_rate_pct"] = m.group(1) if m else UNKNOWN
    info["rejected_requests"] = str(sum(1 for l in launch if "ERROR" in l and "Error in preprocessing prompt inputs" in l))
    return info


def nondefault(args_text: str, key: str) -> str:
    m = re.search(r"'" + re.escape(key) + r"': (\d+)", args_text)
    return m.group(1) if m else UNKNOWN


def build_blis(a, keys: set[str], summary: list) -> None:
    rows = []
    with open(os.path.join(a.blis_dir, "per_request_from_traces.csv"), encoding="utf-8", newline="") as f:
        for i, r in enumerate(csv.DictReader(f)):
            rows.append((r["experiment"], int(r["start_unix_ns"]), i, r))
    t0 = {}
    for exp, ns, _, _ in rows:
        t0[exp] = min(ns, t0.get(exp, ns))
    rows.sort(key=lambda x: (x[0], x[1], x[2]))
    out = [[exp, ns_to_s(ns - t0[exp]), r["prompt_tokens"], r["completion_tokens"],
            f9(r["ttft_s"]), f9(r["e2e_s"]), f9(r["queue_s"])] for exp, ns, _, r in rows]
    write_csv(os.path.join(a.out, "blis_vllm011", "requests.csv"),
              ["experiment", "arrival_s", "prompt_tokens", "completion_tokens", "ttft_s", "e2e_s", "queue_s"], out)
    n_by_exp = OrderedDict()
    for exp, _, _, _ in rows:
        n_by_exp[exp] = n_by_exp.get(exp, 0) + 1
    summary.append(("blis_vllm011/requests.csv", len(out), OrderedDict([
        ("runs", len(n_by_exp)),
        ("mean prompt_tokens", mean(int(r[2]) for r in out)),
        ("mean completion_tokens", mean(int(r[3]) for r in out)),
        ("mean ttft_s", mean(float(r[4]) for r in out)),
        ("mean e2e_s", mean(float(r[5]) for r in out)),
    ]) | OrderedDict((f"{k} rows", v) for k, v in n_by_exp.items())))

    header = ["experiment", "model", "hf_model", "requests", "tp", "dtype", "max_num_seqs", "max_num_batched_tokens",
              "max_model_len", "prefix_tokens", "enable_prefix_caching", "chunked_prefill", "cudagraph_mode",
              "cudagraph_capture_sizes", "gpu_memory_utilization", "kv_cache_tokens", "kv_cache_blocks",
              "kv_cache_memory_gib", "model_weights_gib", "attention_backend", "vllm_version",
              "prefix_cache_hit_rate_final_pct", "rejected_requests", "engine_launches_in_log"]
    runs = []
    for exp in sorted(os.listdir(os.path.join(a.blis_dir, "runs"))):
        d = os.path.join(a.blis_dir, "runs", exp)
        with open(os.path.join(d, "exp-config.yaml"), encoding="utf-8") as f:
            ec = simple_yaml(f.read())
        with open(os.path.join(d, "profile.yaml"), encoding="utf-8") as f:
            prof = simple_yaml(f.read())
        with open(os.path.join(d, "vllm.log"), encoding="utf-8", errors="replace") as f:
            log = parse_vllm_log(f.read())
        hf = log["served_model_name"]
        model = BLIS_MODELS.get(hf, UNKNOWN)
        if model != UNKNOWN and model not in keys:
            Warnings.add(f"{exp}: catalog key {model} is not in {a.models}")
        nd = log["non_default_args"]
        vals = {
            "max_num_seqs": nondefault(nd, "max_num_seqs"),
            "max_num_batched_tokens": nondefault(nd, "max_num_batched_tokens"),
            "max_model_len": log["max_model_len"],
            "tp": log["tensor_parallel_size"],
        }
        # The log is what the engine ran; exp-config.yaml is what was asked for. Say where they differ.
        for key, eckey in [("max_num_seqs", "max_num_seqs"), ("max_num_batched_tokens", "max_num_batched_tokens"),
                           ("max_model_len", "max_model_len"), ("tp", "tensor_parallelism")]:
            if ec.get(eckey, UNKNOWN) != vals[key]:
                Warnings.add(f"{exp}: exp-config.yaml {eckey}={ec.get(eckey)} but vllm.log says {vals[key]}")
        if ec.get("model") != hf:
            Warnings.add(f"{exp}: exp-config.yaml model={ec.get('model')} but vllm.log serves {hf}")
        if log["chunked_prefill_log_tokens"] not in (UNKNOWN, vals["max_num_batched_tokens"]):
            Warnings.add(f"{exp}: chunked-prefill budget {log['chunked_prefill_log_tokens']} != max_num_batched_tokens")
        runs.append([exp, model, hf, n_by_exp.get(exp, 0), vals["tp"], log["dtype"], vals["max_num_seqs"],
                     vals["max_num_batched_tokens"], vals["max_model_len"], prof.get("data.prefix_tokens", UNKNOWN),
                     log["enable_prefix_caching"].lower(), log["chunked_prefill_enabled"].lower(),
                     log["cudagraph_mode"], log["cudagraph_capture_sizes"], log["gpu_memory_utilization"],
                     log["kv_cache_tokens"], log["kv_cache_blocks"], log["kv_cache_memory_gib"],
                     log["model_weights_gib"], log["attention_backend"], log["vllm_version"],
                     log["prefix_cache_hit_rate_pct"], log["rejected_requests"], log["launches"]])
    write_csv(os.path.join(a.out, "blis_vllm011", "runs.csv"), header, runs)
    summary.append(("blis_vllm011/runs.csv", len(runs), OrderedDict(
        (r[0], f"{r[1]} tp{r[4]} seqs {r[6]} batched {r[7]} len {r[8]} prefix {r[9]} kv {r[15]} tok, "
               f"hit {r[21]}%, rejected {r[22]}") for r in runs)))


# ---- 3, 4, 5: ML.ENERGY leaderboard v2 -----------------------------------------------------------------------------
def build_mlenergy(a, keys: set[str], summary: list) -> None:
    for key in MLENERGY_MODELS.values():
        if key not in keys:
            Warnings.add(f"catalog key {key} is not in {a.models}")
    rows = []
    with open(a.mlenergy_flat, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if r["GPU"] != MLENERGY_GPU or r["Model"] not in MLENERGY_MODELS:
                continue
            src = f"{LEADERBOARD_DATA}/{r['file']}"
            up = json.loads(git_show(a.leaderboard_git, LEADERBOARD_COMMIT, src))
            for col in ["TP", "PP", "Max BS (reqs)", "Avg BS (reqs)", "Avg Output Tokens", "Avg TPOT (s)",
                        "Token tput (tok/s)", "Energy/req (J)"]:
                if not math.isclose(float(r[col]), float(up[col]), rel_tol=1e-12):
                    Warnings.add(f"{src}: {col} {up[col]} upstream, {r[col]} in the flat CSV")
            bs = re.match(r"bs(\d+)\+tp(\d+)\+pp(\d+)\.json$", os.path.basename(r["file"]))
            max_num_seqs = bs.group(1) if bs else UNKNOWN
            if bs and int(bs.group(1)) * int(r["PP"]) != int(r["Max BS (reqs)"]):
                Warnings.add(f"{src}: max_num_seqs x PP != Max BS")
            rows.append([r["task"], MLENERGY_MODELS[r["Model"]], r["Model"], r["TP"], r["PP"], max_num_seqs,
                         r["Max BS (reqs)"], r["Avg BS (reqs)"], r["Avg Output Tokens"], r["Avg TPOT (s)"],
                         r["Token tput (tok/s)"], r["Energy/req (J)"], src])
    order = list(MLENERGY_MODELS.values())
    # The first seven models' rows come first, by task, model and batch; models added later follow them, so that each
    # row keeps its index (validate-gpu seeds a run's output lengths with it).
    rows.sort(key=lambda x: (order.index(x[1]) >= 7, x[0], order.index(x[1]), int(x[6])))
    write_csv(os.path.join(a.out, "mlenergy", "h100.csv"),
              ["task", "model", "hf_model", "tp", "pp", "max_num_seqs", "max_bs", "avg_bs", "avg_output_tokens",
               "avg_tpot_s", "token_tput_per_s", "energy_per_req_j", "source_file"], rows)
    per_model = OrderedDict()
    for r in rows:
        per_model.setdefault(r[1], []).append(r)
    summary.append(("mlenergy/h100.csv", len(rows), OrderedDict(
        (m, f"{len(rs)} rows, tp{rs[0][3]} pp{rs[0][4]}, max_bs {rs[0][6]}..{rs[-1][6]}, "
            f"avg_tpot {float(rs[0][9]):.4f}..{float(rs[-1][9]):.4f} s, "
            f"mean avg_output_tokens {mean(float(x[8]) for x in rs):.1f}") for m, rs in per_model.items())))

    # Chat prompts: first turn of each of the 500 conversations, stripped, as the chat client sends it.
    client = git_show(a.leaderboard_git, LEADERBOARD_COMMIT, CHAT_CLIENT).decode("utf-8")
    if f'SYSTEM_PROMPT = "{CHAT_SYSTEM_PROMPT}"' not in client:
        Warnings.add("the chat client's SYSTEM_PROMPT is not the one CHAT_TEMPLATE_TOKENS was counted for")
    if '"content": prompt.strip()' not in client:
        Warnings.add("the chat client no longer strips the prompt")
    data = json.loads(git_show(a.leaderboard_git, LEADERBOARD_COMMIT, SHAREGPT_500))
    chat = []
    for i, conv in enumerate(data):
        text = conv["conversations"][0]["value"].strip()
        user = half_up(len(text) / CHAT_CHARS_PER_TOKEN)
        chat.append([i, conv["id"], len(text), user, user + CHAT_TEMPLATE_TOKENS])
    write_csv(os.path.join(a.out, "mlenergy", "chat_prompts.csv"),
              ["index", "sharegpt_id", "prompt_chars", "user_tokens_est", "prompt_tokens_est"], chat)
    summary.append(("mlenergy/chat_prompts.csv", len(chat), OrderedDict([
        ("mean prompt_chars", mean(r[2] for r in chat)),
        ("mean user_tokens_est", mean(r[3] for r in chat)),
        ("mean prompt_tokens_est", mean(r[4] for r in chat)),
        ("max prompt_tokens_est", max(r[4] for r in chat))])))

    # Code prompts: the 164 HumanEval problems, prompt.strip() as the code client does (it reads EvalPlus's
    # HumanEval+, whose prompts are the HumanEval ones; see the README for the few that differ).
    he = gzip.decompress(git_show(a.human_eval_git, HUMAN_EVAL_COMMIT, HUMAN_EVAL_DATA)).decode("utf-8")
    code = []
    for i, line in enumerate(l for l in he.splitlines() if l.strip()):
        p = json.loads(line)
        text = p["prompt"].strip()
        code.append([i, p["task_id"], len(text), half_up(len(text) / CODE_CHARS_PER_TOKEN) + CODE_BOS_TOKENS])
    write_csv(os.path.join(a.out, "mlenergy", "code_prompts.csv"),
              ["index", "task_id", "prompt_chars", "prompt_tokens_est"], code)
    summary.append(("mlenergy/code_prompts.csv", len(code), OrderedDict([
        ("mean prompt_chars", mean(r[2] for r in code)),
        ("mean prompt_tokens_est", mean(r[3] for r in code)),
        ("max prompt_tokens_est", max(r[3] for r in code))])))

    # ShareGPT response lengths (Llama 2 tokenizer), as 200 equal-probability quantiles: q = (i + 0.5) / 200,
    # tokens = the nearest-rank quantile, sorted[ceil(q n) - 1].
    with open(a.sharegpt_stats, encoding="utf-8", newline="") as f:
        dec = sorted(int(r["num_decode_tokens"]) for r in csv.DictReader(f))
    n = len(dec)
    q = []
    for i in range(N_OUTPUT_QUANTILES):
        k = -(-(2 * i + 1) * n // (2 * N_OUTPUT_QUANTILES)) - 1
        q.append([f"{(2 * i + 1) / (2 * N_OUTPUT_QUANTILES):.4f}", dec[k]])
    write_csv(os.path.join(a.out, "mlenergy", "output_lengths.csv"), ["q", "tokens"], q)
    summary.append(("mlenergy/output_lengths.csv", len(q), OrderedDict([
        ("source responses", n), ("source mean", mean(dec)), ("mean of quantiles", mean(r[1] for r in q)),
        ("median", q[N_OUTPUT_QUANTILES // 2][1]), ("min..max quantile", f"{q[0][1]}..{q[-1][1]}")])))


# ---- 6: LLMServingSim figure 5 (H100) ------------------------------------------------------------------------------
def read_tsv(text: str) -> list[tuple[str, str]]:
    r = csv.DictReader(io.StringIO(text), delimiter="\t")
    return [(row["time_s"], row["throughput"]) for row in r if row["time_s"]]


def figure5_h100_commands(script: str) -> dict:
    """config -> (prefix caching on, dataset file) for the H100 runs of evaluation/figure_5.sh."""
    joined = script.replace("\\\n", " ")
    var = dict(re.findall(r'^(\w+)="([^"]*)"', joined, flags=re.M))
    out = {}
    for line in joined.splitlines():
        m = re.search(r'--cluster-config "\$H100_CONFIG_DIR/([^"]+)_config\.json"', line)
        if not m or "main.py" not in line:
            continue
        ds = re.search(r'--dataset "\$(\w+)"', line)
        out[m.group(1)] = ("--enable-prefix-caching" in line,
                           os.path.basename(var.get(ds.group(1), UNKNOWN)) if ds else UNKNOWN)
    return out


def build_llmservingsim(a, keys: set[str], summary: list) -> None:
    commit = LLMSERVINGSIM_COMMIT
    tagged = git_resolve(a.llmservingsim_git, LLMSERVINGSIM_TAG)
    if tagged != LLMSERVINGSIM_COMMIT:
        Warnings.add(f"{LLMSERVINGSIM_TAG} resolves to {tagged}, expected {LLMSERVINGSIM_COMMIT}; using the latter")

    prompts = []
    for line in git_show(a.llmservingsim_git, commit, LSS_DATASET).decode("utf-8").splitlines():
        if line.strip():
            prompts.append(json.loads(line, parse_float=Decimal))
    rows, seen = [], []
    for p in prompts:
        ns = int(Decimal(p["arrival_time_ns"]).to_integral_value())
        ids = p["input_tok_ids"]
        if len(ids) != p["input_toks"]:
            Warnings.add("input_tok_ids length != input_toks")
        best = 0
        for s in seen:
            k, lim = 0, min(len(s), len(ids))
            while k < lim and s[k] == ids[k]:
                k += 1
            best = max(best, k)
        seen.append(ids)
        rows.append([ns_to_s(ns), p["input_toks"], p["output_toks"], best // PREFIX_BLOCK * PREFIX_BLOCK])
    write_csv(os.path.join(a.out, "llmservingsim", "sharegpt300.csv"),
              ["arrival_s", "prompt_tokens", "output_tokens", "shared_prefix_tokens"], rows)
    span = float(rows[-1][0]) - float(rows[0][0])
    summary.append(("llmservingsim/sharegpt300.csv", len(rows), OrderedDict([
        ("mean prompt_tokens", mean(r[1] for r in rows)), ("mean output_tokens", mean(r[2] for r in rows)),
        ("total output_tokens", sum(r[2] for r in rows)), ("arrival span s", span),
        ("rate req/s", (len(rows) - 1) / span), ("requests with a shared prefix", sum(1 for r in rows if r[3])),
        ("shared prefix tokens", sum(r[3] for r in rows))])))

    measured, predicted = [], []
    totals = OrderedDict()
    for c in LSS_CONFIGS:
        with open(os.path.join(a.llmservingsim_dir, f"{c}_throughput.tsv"), encoding="utf-8") as f:
            text = f.read()
        ref = git_show(a.llmservingsim_git, commit, f"{LSS_ARTIFACT}/reference/{c}_throughput.tsv").decode("utf-8")
        if ref != text:
            Warnings.add(f"{c}_throughput.tsv differs from {LSS_ARTIFACT}/reference/ at {commit[:8]}")
        m = read_tsv(text)
        p = read_tsv(git_show(a.llmservingsim_git, commit, f"{LSS_ARTIFACT}/parsed/{c}_throughput.tsv").decode("utf-8"))
        measured += [[c, t, v] for t, v in m]
        predicted += [[c, t, v] for t, v in p]
        totals[c] = (len(m), sum(float(v) for _, v in m), len(p), sum(float(v) for _, v in p))
    write_csv(os.path.join(a.out, "llmservingsim", "throughput_measured.csv"), ["config", "time_s", "tokens_per_s"],
              measured)
    write_csv(os.path.join(a.out, "llmservingsim", "throughput_llmservingsim.csv"),
              ["config", "time_s", "tokens_per_s"], predicted)
    summary.append(("llmservingsim/throughput_measured.csv", len(measured), OrderedDict(
        (c, f"{t[0]} s, tokens (sum over 1 s bins) {t[1]:.0f}") for c, t in totals.items())))
    summary.append(("llmservingsim/throughput_llmservingsim.csv", len(predicted), OrderedDict(
        (c, f"{t[2]} s, tokens (sum over 1 s bins) {t[3]:.0f}") for c, t in totals.items())))

    fig = figure5_h100_commands(git_show(a.llmservingsim_git, commit, LSS_FIGURE).decode("utf-8"))
    cfg_rows = []
    for c in LSS_CONFIGS:
        with open(os.path.join(a.llmservingsim_dir, f"{c}_config.json"), encoding="utf-8") as f:
            text = f.read()
        if git_show(a.llmservingsim_git, commit, f"{LSS_ARTIFACT}/config/{c}_config.json").decode("utf-8") != text:
            Warnings.add(f"{c}_config.json differs from {LSS_ARTIFACT}/config/ at {commit[:8]}")
        cfg = json.loads(text)
        inst = [i for node in cfg["nodes"] for i in node["instances"]]
        hf = sorted({i["model_name"] for i in inst})
        tps = sorted({str(i["npu_num"]) for i in inst})
        hw = sorted({i["hardware"] for i in inst})
        mem = sorted({str(i["npu_mem"]["mem_size"]) for i in inst})
        pc, ds = fig.get(c, (None, UNKNOWN))
        key = LSS_MODELS.get(hf[0], "not-replayed") if len(hf) == 1 else UNKNOWN
        if key not in ("not-replayed", UNKNOWN) and key not in keys:
            Warnings.add(f"catalog key {key} is not in {a.models}")
        cfg_rows.append([c, cfg["num_nodes"], len(inst), " ".join(tps), " ".join(str(i["pd_type"]).lower() for i in inst),
                         key, " ".join(hf), " ".join(hw), " ".join(mem),
                         UNKNOWN if pc is None else str(pc).lower(), ds])
    write_csv(os.path.join(a.out, "llmservingsim", "configs.csv"),
              ["config", "nodes", "instances", "tp", "pd_type", "model", "hf_model", "hardware", "gpu_mem_gb",
               "prefix_caching", "dataset"], cfg_rows)
    summary.append(("llmservingsim/configs.csv", len(cfg_rows), OrderedDict(
        (r[0], f"{r[2]} x tp{r[3]} {r[5]}, pd {r[4]}, prefix caching {r[9]}, {r[10]}") for r in cfg_rows)))


# ---- main ----------------------------------------------------------------------------------------------------------
def main() -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared-data", default=os.path.join(os.path.dirname(repo), "shared", "data"))
    ap.add_argument("--blis-dir")
    ap.add_argument("--mlenergy-flat")
    ap.add_argument("--llmservingsim-dir")
    ap.add_argument("--sharegpt-stats")
    ap.add_argument("--leaderboard-git")
    ap.add_argument("--human-eval-git")
    ap.add_argument("--llmservingsim-git")
    ap.add_argument("--models", default=os.path.join(repo, "data", "models.yaml"))
    ap.add_argument("--out", default=os.path.join(repo, "data", "validation"))
    a = ap.parse_args()
    s = a.shared_data
    a.blis_dir = a.blis_dir or os.path.join(s, "gpu", "blis-vllm-0.11-requests")
    a.mlenergy_flat = a.mlenergy_flat or os.path.join(s, "gpu", "mlenergy-v2", "llm_v2_flat.csv")
    a.llmservingsim_dir = a.llmservingsim_dir or os.path.join(s, "gpu", "llmservingsim", "vllm_throughput_h100")
    a.sharegpt_stats = a.sharegpt_stats or os.path.join(s, "traces", "sharegpt_8k_filtered_stats_llama2_tokenizer.csv")

    missing = []
    for label, path, kind in [
        ("--blis-dir", a.blis_dir, "dir"), ("--mlenergy-flat", a.mlenergy_flat, "file"),
        ("--llmservingsim-dir", a.llmservingsim_dir, "dir"), ("--sharegpt-stats", a.sharegpt_stats, "file"),
        ("--models", a.models, "file")]:
        if not (os.path.isdir(path) if kind == "dir" else os.path.isfile(path)):
            missing.append(f"{label} {path} (not found)")
    for label, path, commit in [("--leaderboard-git", a.leaderboard_git, LEADERBOARD_COMMIT),
                                ("--human-eval-git", a.human_eval_git, HUMAN_EVAL_COMMIT),
                                ("--llmservingsim-git", a.llmservingsim_git, LLMSERVINGSIM_COMMIT)]:
        if not path:
            missing.append(f"{label} (not given)")
        elif not os.path.isdir(path) or not git_has_commit(path, commit):
            missing.append(f"{label} {path} (no git directory with commit {commit[:12]})")
    if missing:
        print("make_validation_data: inputs missing, nothing written:")
        for m in missing:
            print("  " + m)
        print("These are public measurements outside the repository (see data/validation/README.md); "
              "the committed files in data/validation/ stay as they are.")
        return 0

    keys = catalog_keys(a.models)
    summary: list = []
    build_blis(a, keys, summary)
    build_mlenergy(a, keys, summary)
    build_llmservingsim(a, keys, summary)

    print(f"make_validation_data: wrote {len(summary)} files under {os.path.relpath(a.out, repo)}/")
    for name, n, facts in summary:
        print(f"  {name}: {n} rows")
        for k, v in facts.items():
            print(f"      {k}: {v:.4g}" if isinstance(v, float) else f"      {k}: {v}")
    if Warnings.items:
        print(f"{len(Warnings.items)} warning(s) (see above): the sources disagree with each other where said")
    return 0


if __name__ == "__main__":
    sys.exit(main())
