# The fuzz targets: compass_add_fuzzer(<name> LIBRARIES <libs...>) for
# fuzz/<name>_fuzzer.cpp, whose parser lives in <libs> (all torch-free).
# fuzz/CMakeLists.txt builds them for libFuzzer, tests/fuzz/CMakeLists.txt
# as replays of their corpus and regressions.
compass_add_fuzzer(safetensors LIBRARIES compass_model_config)
compass_add_fuzzer(gguf LIBRARIES compass_model_config compass_gguf)
compass_add_fuzzer(gguf_tokenizer LIBRARIES compass_tokenizer compass_gguf)
compass_add_fuzzer(model_config LIBRARIES compass_model_config)
compass_add_fuzzer(tokenizer_json LIBRARIES compass_tokenizer)
compass_add_fuzzer(tokenizer_encode LIBRARIES compass_tokenizer)
compass_add_fuzzer(eval_config LIBRARIES compass_config)
compass_add_fuzzer(mmlu LIBRARIES compass_dataset_mmlu_lib)
compass_add_fuzzer(arc LIBRARIES compass_dataset_arc_lib)
compass_add_fuzzer(gsm8k LIBRARIES compass_dataset_gsm8k_lib)
compass_add_fuzzer(hellaswag LIBRARIES compass_dataset_hellaswag_lib)
compass_add_fuzzer(jsonl LIBRARIES compass_dataset_jsonl_lib)
compass_add_fuzzer(results_store LIBRARIES compass_results)
compass_add_fuzzer(jinja LIBRARIES compass_jinja)
compass_add_fuzzer(lm_eval_task LIBRARIES compass_dataset_jsonl_lib)
