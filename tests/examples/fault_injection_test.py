#!/usr/bin/env python3
"""Fault injection on every in-tree backend, on the real model.

For each of hf_native, paged_tp (tp = 3) and pipeline (3 stages) on three
virtual CPU devices, over a slice of ARC-Easy (scoring) and GSM8K (greedy
generation):

  1. a reference run, uninterrupted;
  2. a chain of runs into one folder, each killed with SIGKILL at a time
     spread over the reference's duration (start-up, load, evaluation,
     reports), each resuming what the previous one stored;
  3. a crash (SIGSEGV sent to the process mid-run: the crash report must
     name the backend and its call), a Ctrl-C (exit 130), and a full disk
     (RLIMIT_FSIZE: a clear error naming the results database, non-zero
     exit), each followed by the same command again;
  4. a final resume, which must complete.

Every chain must end with the reference's results: the same predictions,
the same generated tokens, log-probs within 1e-4 (the bound compare holds
backends to: a resumed run batches the remaining requests differently, and
paged_tp's float32 sums depend on a step's composition; hf_native's are
bit-identical), and the same number of stored responses (nothing lost,
nothing duplicated). Prints the
figures docs/reliability.md quotes.

usage: fault_injection_test.py COMPASS SOURCE_DIR [BACKEND...]
"""
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

COMPASS, SRC = sys.argv[1], sys.argv[2]
BACKENDS = sys.argv[3:] or ["hf_native", "paged_tp", "pipeline"]
KILLS = int(os.environ.get("COMPASS_FAULT_KILLS", "20"))


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def model_path():
    path = os.environ.get("COMPASS_REAL_MODEL")
    if not path:
        path = subprocess.run(["bash", f"{SRC}/scripts/fetch_model.sh"], check=True,
                              capture_output=True, text=True).stdout.strip()
    if not os.path.isfile(path):
        fail("the real model is missing: run scripts/fetch_model.sh")
    return path


def write_config(work):
    cfg = os.path.join(work, "eval.toml")
    with open(cfg, "w") as f:
        f.write(f"""[model]
path = "{model_path()}"
dtype = "float32"
max_length = 1024

[backend]
devices = ["cpu:0", "cpu:1", "cpu:2"]
batch_size = 4

[backend.paged_tp]
tp = 3

[backend.pipeline]
stages = 3
micro_batch_size = 2

[[task]]
name = "arc_easy"
dataset = "arc"
path = "{SRC}/examples/default/data/arc"
subset = "Easy"
limit = 6

[[task]]
name = "gsm8k"
dataset = "gsm8k"
path = "{SRC}/tests/fixtures/gsm8k"
shots = 0
limit = 1
max_new_tokens = 8
""")
    return cfg


def start(backend, cfg, out, log, fsize=None):
    def limit():
        if fsize is not None:
            # A full disk: writes past `fsize` bytes fail with EFBIG.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return subprocess.Popen([COMPASS, "--backend", backend, "--config", cfg, "--output", out],
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                            preexec_fn=limit)


def phase(log):
    """Where a run was when it ended, from its log."""
    text = open(log, errors="replace").read()
    if " computed, " in text or "Report:" in text:
        return "reports"
    if "evaluating" in text:
        return "evaluation"
    if "loading" in text or "loaded" in text:
        return "load"
    return "start-up"


def results(out):
    """Per item: prediction, per-choice log-probs, generated text."""
    items = {}
    with open(os.path.join(out, "samples.jsonl")) as f:
        for line in f:
            s = json.loads(line)
            key = (s.get("task"), s.get("id", s.get("item_id")))
            items[key] = s
    db = sqlite3.connect(os.path.join(out, "results.sqlite"))
    responses = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    tokens = dict(db.execute(
        "SELECT hash, tokens_json FROM responses WHERE kind = 'generate'").fetchall())
    db.close()
    return items, responses, tokens


def compare(backend, ref, got):
    ref_items, ref_responses, ref_tokens = ref
    items, responses, tokens = got
    if responses != ref_responses:
        fail(f"{backend}: {responses} responses stored, the reference has {ref_responses}")
    if set(items) != set(ref_items):
        fail(f"{backend}: the items differ from the reference")
    if tokens != ref_tokens:
        fail(f"{backend}: generated tokens differ from the reference")
    worst = 0.0
    for key, r in ref_items.items():
        s = items[key]
        if s.get("error") or r.get("error"):
            fail(f"{backend}: {key} has an error: {s.get('error') or r.get('error')}")
        if s.get("prediction") != r.get("prediction"):
            fail(f"{backend}: {key}: prediction {s.get('prediction')} != {r.get('prediction')}")
        if s.get("generation") != r.get("generation"):
            fail(f"{backend}: {key}: generation differs")
        for a, b in zip(r.get("logprobs") or [], s.get("logprobs") or []):
            worst = max(worst, abs(a - b))
    if worst > 1e-4:
        fail(f"{backend}: log-probs differ from the reference by {worst}")
    return worst


def run_backend(backend, work, cfg):
    ref_dir = os.path.join(work, f"{backend}-reference")
    t0 = time.monotonic()
    p = start(backend, cfg, ref_dir, os.path.join(work, f"{backend}-reference.log"))
    if p.wait() != 0:
        fail(f"{backend}: the reference run failed: "
             f"{open(os.path.join(work, f'{backend}-reference.log')).read()[-2000:]}")
    duration = time.monotonic() - t0
    reference = results(ref_dir)

    out = os.path.join(work, f"{backend}-faults")
    phases = {}
    killed = 0
    # SIGKILL at times spread over the reference's duration; each run
    # resumes what the previous ones stored.
    for k in range(1, KILLS + 1):
        log = os.path.join(work, f"{backend}-kill{k}.log")
        p = start(backend, cfg, out, log)
        try:
            p.wait(timeout=duration * k / (KILLS + 1))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed += 1
            where = phase(log)
            phases[where] = phases.get(where, 0) + 1
            continue
        if p.returncode != 0:
            fail(f"{backend}: run {k} failed with {p.returncode}: {open(log).read()[-2000:]}")
        phases["finished"] = phases.get("finished", 0) + 1

    def fault(name, sig=None, fsize=None):
        """A run from an empty folder (so that the fault lands mid-run),
        sent `sig` at 60 % of the reference's duration; its exit status and
        log."""
        d = os.path.join(work, f"{backend}-{name}")
        log = os.path.join(work, f"{backend}-{name}.log")
        p = start(backend, cfg, d, log, fsize=fsize)
        if sig is not None:
            time.sleep(duration * 0.6)
            if p.poll() is None:
                p.send_signal(sig)
        rc = p.wait(timeout=600)
        return d, rc, open(log, errors="replace").read()

    outcomes = {}
    crash_out, rc, text = fault("crash", sig=signal.SIGSEGV)
    if rc == -signal.SIGSEGV:
        if "[fatal] compass died of SIGSEGV" not in text or "run the same command again" not in text:
            fail(f"{backend}: the crash was not reported: {text[-1500:]}")
        outcomes["crash"] = "reported: " + text.split("[fatal] compass died of ")[1].split("\n")[0]
    elif rc != 0:
        fail(f"{backend}: crash run ended with {rc}: {text[-1500:]}")
    int_out, rc, text = fault("interrupt", sig=signal.SIGINT)
    if rc not in (0, 130):
        fail(f"{backend}: Ctrl-C ended with {rc}: {text[-1500:]}")
    outcomes["interrupt"] = f"exit {rc}"
    # A full disk: the database cannot grow past a few pages.
    disk_out, rc, text = fault("disk-full", fsize=160 * 1024)
    if rc == 0:
        fail(f"{backend}: a run on a full disk reported success")
    if "results.sqlite" not in text:
        fail(f"{backend}: the full-disk error does not name the database: {text[-1500:]}")
    outcomes["disk full"] = f"exit {rc}"

    worst = 0.0
    for d, name in ((out, "kills"), (crash_out, "crash"), (int_out, "interrupt"),
                    (disk_out, "disk full")):
        log = os.path.join(work, f"{backend}-{os.path.basename(d)}-resume.log")
        p = start(backend, cfg, d, log)
        if p.wait() != 0:
            fail(f"{backend}: resuming after {name} failed: {open(log).read()[-2000:]}")
        worst = max(worst, compare(backend, reference, results(d)))
    print(f"{backend}: reference {duration:.1f} s, {reference[1]} responses; "
          f"{KILLS} SIGKILLs ({killed} landed: "
          + ", ".join(f"{n} in {p}" for p, n in sorted(phases.items()))
          + "); " + "; ".join(f"{k}: {v}" for k, v in outcomes.items())
          + f"; every resume equals the reference (max |delta log-prob| {worst:.1e})",
          flush=True)


def main():
    keep = os.environ.get("COMPASS_FAULT_WORK")  # keep the folders and logs there
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or tmp
        os.makedirs(work, exist_ok=True)
        cfg = write_config(work)
        for backend in BACKENDS:
            run_backend(backend, work, cfg)
    print("fault injection: OK")


main()
