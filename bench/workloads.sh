# The real-model workloads the backend benchmarks share, as run configs:
#   write_workloads OUT GGUF SHARED QUESTIONS PROMPTS MAX_NEW
# writes OUT/scoring.toml (5-shot MMLU, QUESTIONS questions over 4 subjects)
# and OUT/generation.toml (0-shot GSM8K, PROMPTS questions, greedy, MAX_NEW
# tokens at most), float32. Sourced by bench/*/run.sh.
write_workloads() {
  local out=$1 gguf=$2 shared=$3 questions=$4 prompts=$5 max_new=$6
  local per_subject=$(( (questions + 3) / 4 ))
  cat >"$out/scoring.toml" <<TOML
[model]
path = "$gguf"
dtype = "float32"
[[task]]
name = "mmlu_5shot"
dataset = "mmlu"
path = "$shared/mmlu"
shots = 5
subjects = ["astronomy", "high_school_geography", "marketing", "nutrition"]
limit = $per_subject
TOML
  cat >"$out/generation.toml" <<TOML
[model]
path = "$gguf"
dtype = "float32"
[[task]]
name = "gsm8k"
dataset = "gsm8k"
path = "$shared/gsm8k"
limit = $prompts
max_new_tokens = $max_new
TOML
}
