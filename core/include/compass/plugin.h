/*
 * Compass plugin ABI: the one header a third-party plugin needs.
 *
 * Plain C. Opaque handles, fixed-width integers, pointer+length strings, no
 * exceptions. A plugin shared library exports one entry symbol per plugin
 * kind it provides:
 *
 *   const compass_backend_api* compass_backend_plugin(void);
 *   const compass_dataset_api* compass_dataset_plugin(void);
 *   const compass_scorer_api*  compass_scorer_plugin(void);
 *
 * Each returns a pointer to a static, immutable function table that starts
 * with compass_abi_header. The compatibility promise (docs/plugin-abi.md):
 *   - abi_major changes only when an existing field changes meaning or moves;
 *     the host refuses a table whose major differs from its own, naming both.
 *   - abi_minor grows when fields are appended at the END of a table or of a
 *     struct, never anywhere else. Every struct that may grow starts with
 *     struct_size: the bytes its producer knows about. A consumer reads a
 *     field only if it lies inside struct_size (COMPASS_HAS_FIELD), and steps
 *     through an array of such structs by the elements' struct_size
 *     (COMPASS_AT), never by its own sizeof. A NULL optional function slot
 *     means "not supported".
 *
 * Errors: every fallible function returns compass_status*; NULL means success.
 * Status objects are always allocated by the host (compass_host_api.status_new)
 * so that one allocator creates and frees them. A status returned by a plugin
 * function is owned by the host afterwards; a status returned by a host
 * service is owned by the plugin, which frees it with status_free (or returns
 * it onwards, passing ownership back).
 *
 * Strings: compass_str is {pointer, byte length}, UTF-8, not NUL-terminated.
 * Unless a function says otherwise, every pointer argument is BORROWED: valid
 * only for the duration of the call; copy what you keep.
 *
 * Threading: a plugin object (backend, dataset, scorer instance) is used by
 * one host thread at a time. Host services and sinks may be called from any
 * thread.
 */
#ifndef COMPASS_PLUGIN_H_
#define COMPASS_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COMPASS_ABI_MAJOR 2
#define COMPASS_ABI_MINOR 2

#if defined(_WIN32)
#define COMPASS_PLUGIN_EXPORT __declspec(dllexport)
#else
#define COMPASS_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Entry symbol names, for loaders. */
#define COMPASS_BACKEND_ENTRY "compass_backend_plugin"
#define COMPASS_DATASET_ENTRY "compass_dataset_plugin"
#define COMPASS_SCORER_ENTRY "compass_scorer_plugin"

/* True when a struct produced with struct_size `size` contains `field`. */
#define COMPASS_HAS_FIELD(type, size, field) \
  ((uint64_t)(offsetof(type, field) + sizeof(((type*)0)->field)) <= (uint64_t)(size))

/* Element `i` of an array of growable structs whose first element is at
 * `base`: the stride is the producer's struct_size, which may differ from
 * the consumer's sizeof(type). */
#define COMPASS_AT(type, base, i) \
  ((const type*)((const char*)(base) + (uint64_t)(i) * (base)->struct_size))

/* ------------------------------------------------------------------------ */
/* Basic types                                                              */
/* ------------------------------------------------------------------------ */

typedef struct compass_str {
  const char* data; /* may be NULL when size == 0 */
  uint64_t size;
} compass_str;

typedef struct compass_tokens {
  const int32_t* ids;
  uint64_t size;
} compass_tokens;

typedef enum compass_code {
  COMPASS_OK = 0,
  COMPASS_INVALID_ARGUMENT = 1, /* bad config/options/request: user can fix */
  COMPASS_NOT_FOUND = 2,        /* file, tensor, device, item missing */
  COMPASS_OUT_OF_MEMORY = 3,    /* plan does not fit, or allocation failed */
  COMPASS_UNSUPPORTED = 4,      /* feature/dtype/architecture not supported */
  COMPASS_CANCELLED = 5,        /* host asked to stop */
  COMPASS_INTERNAL = 6,         /* a bug, or an exception caught at the ABI */
  COMPASS_IO = 7,               /* read/write failure */
  COMPASS_DATA_LOSS = 8         /* corrupt input file */
} compass_code;

typedef struct compass_status compass_status; /* opaque, host-allocated */

typedef enum compass_log_level {
  COMPASS_LOG_DEBUG = 0,
  COMPASS_LOG_INFO = 1,
  COMPASS_LOG_WARN = 2,
  COMPASS_LOG_ERROR = 3
} compass_log_level;

/* Every function table starts with this header. It is frozen forever. */
typedef struct compass_abi_header {
  uint32_t abi_major;
  uint32_t abi_minor;
  uint64_t struct_size; /* sizeof the whole table as the plugin built it */
} compass_abi_header;

/* Identity of a plugin, part of every table. */
typedef struct compass_plugin_info {
  compass_str name;        /* unique per kind, [a-z0-9_]+, e.g. "hf_native" */
  compass_str version;     /* semver; "0.0.0-unimplemented" for a placeholder */
  compass_str description; /* one line */
} compass_plugin_info;

/* A plugin-specific option the plugin accepts in its TOML table. The host
 * validates user tables against this list before create() is called, so the
 * plugin only ever sees known keys of the declared type. */
typedef enum compass_option_type {
  COMPASS_OPT_BOOL = 0,
  COMPASS_OPT_INT = 1,
  COMPASS_OPT_FLOAT = 2, /* an integer literal is accepted too */
  COMPASS_OPT_STRING = 3,
  COMPASS_OPT_STRING_LIST = 4,
  COMPASS_OPT_TABLE = 5, /* free-form table, passed through as JSON */
  COMPASS_OPT_ANY = 6,   /* any value, passed through as JSON */
  /* ABI 2.1: a string naming a file; the host passes a relative path
   * resolved against the config file's folder, as it does the task's path
   * (an older host passes it as written). */
  COMPASS_OPT_PATH = 7
} compass_option_type;

typedef struct compass_option_spec {
  uint64_t struct_size;
  compass_str key;
  uint32_t type;       /* compass_option_type */
  compass_str help;    /* one line, shown by `compass plugins --json` and in errors */
  compass_str choices; /* for strings: allowed values separated by '|', or empty */
} compass_option_spec;

typedef struct compass_option_list {
  const compass_option_spec* items; /* step with COMPASS_AT */
  uint64_t size;
} compass_option_list;

/* ------------------------------------------------------------------------ */
/* Host services (given to every plugin at create time)                      */
/* ------------------------------------------------------------------------ */

typedef struct compass_host_api {
  compass_abi_header header;
  void* ctx; /* pass back as the first argument of the ctx-taking services */

  /* Status objects. status_new copies `message`; the caller owns the result. */
  compass_status* (*status_new)(int32_t code, compass_str message);
  void (*status_free)(compass_status* status); /* NULL is a no-op */
  int32_t (*status_code)(const compass_status* status);
  /* Borrowed view, valid until the status is freed. */
  compass_str (*status_message)(const compass_status* status);

  /* Logging into the host's log (terminal and --log-file). Thread-safe. */
  void (*log)(void* ctx, int32_t level, compass_str message);

  /* Progress of the current long call. Thread-safe, cheap; call often.
   *   load:    `done` of `total` weight bytes read, `tokens` 0;
   *   execute: `done` of `total` results delivered (total = the number of
   *            results the call owes, samples included), `tokens` = useful
   *            tokens processed so far in this call (prompt tokens computed
   *            plus tokens generated; padding and finished rows not counted). */
  void (*progress)(void* ctx, uint64_t done, uint64_t total, uint64_t tokens);

  /* Non-zero once the user asked to stop (Ctrl-C). load and execute then
   * return COMPASS_CANCELLED soon; results already delivered are kept. */
  int32_t (*is_cancelled)(void* ctx);
} compass_host_api;

/* ------------------------------------------------------------------------ */
/* Figures: numbers a plugin reports that the host prints without knowing    */
/* the plugin (timings, memory per device, prefix-sharing ratio, bubble).    */
/* ------------------------------------------------------------------------ */

typedef enum compass_unit {
  COMPASS_UNIT_COUNT = 0,
  COMPASS_UNIT_BYTES = 1,
  COMPASS_UNIT_SECONDS = 2,
  COMPASS_UNIT_RATIO = 3,     /* 0..1, printed as a percentage */
  COMPASS_UNIT_PER_SECOND = 4 /* throughput, e.g. tokens per second */
} compass_unit;

typedef struct compass_figure {
  uint64_t struct_size;
  compass_str name;  /* snake_case, e.g. "prefill_tokens_per_s", "peak_memory" */
  compass_str scope; /* "" for the whole backend, or a device such as "cuda:1" */
  double value;
  uint32_t unit; /* compass_unit */
} compass_figure;

typedef struct compass_figure_sink {
  void* ctx;
  /* Thread-safe; `figure` is borrowed for the call. */
  void (*figure)(void* ctx, const compass_figure* figure);
} compass_figure_sink;

/* ------------------------------------------------------------------------ */
/* Backend plugins                                                           */
/* ------------------------------------------------------------------------ */

typedef struct compass_backend compass_backend; /* opaque, plugin-allocated */

typedef enum compass_device_flags {
  COMPASS_DEVICE_BF16 = 1u << 0,     /* supports bfloat16 arithmetic */
  COMPASS_DEVICE_FP16 = 1u << 1,     /* supports float16 arithmetic */
  COMPASS_DEVICE_SIMULATED = 1u << 2 /* planning only: no such device here */
} compass_device_flags;

typedef struct compass_device_spec {
  uint64_t struct_size;
  compass_str name;      /* "cpu", "cpu:N" (virtual CPU device) or "cuda:N" */
  compass_str model;     /* e.g. "NVIDIA A40", "cpu" */
  uint64_t memory_bytes; /* usable capacity (free memory, or user max_memory) */
  uint32_t flags;        /* compass_device_flags */
} compass_device_spec;

/* Everything a backend is told at create. The host has already applied every
 * rule that all backends share: the dtype is final (the bf16 -> fp16 policy
 * is the host's), and every request will fit max_length. All pointers stay
 * valid until destroy. */
typedef struct compass_backend_config {
  uint64_t struct_size;
  compass_str model_path;             /* Hugging Face checkpoint directory */
  compass_str dtype;                  /* "float32" | "float16" | "bfloat16": compute in this */
  const compass_device_spec* devices; /* step with COMPASS_AT */
  uint64_t num_devices;
  /* The [backend.<name>] table, validated against the plugin's option specs,
   * as a JSON object text. "{}" when absent. */
  compass_str options_json;
  uint32_t max_batch_size; /* 0 = backend decides ("auto") */
  uint32_t vocab_size;     /* tokenizer vocabulary incl. added tokens; 0 when
                              planning a model folder that has no tokenizer */
  uint64_t seed;
  int32_t bos_token_id; /* -1 when the tokenizer has none */
  int32_t pad_token_id; /* -1 when none */
  /* The context window: no request's input (loglikelihood: context plus
   * continuation minus its last token; generate: context plus
   * max_new_tokens) is longer. Plan for it. */
  uint64_t max_length;
  /* Bytes of every token id below num_token_bytes as it reads inside a
   * decoded text: concatenating a generation's token bytes gives its text
   * (byte-level pieces may split a UTF-8 character across tokens). For
   * matching stop strings in O(new bytes) per token. */
  const compass_str* token_bytes;
  uint64_t num_token_bytes;
  uint64_t host_memory_bytes; /* RAM available on the host now (offload) */
  /* ABI 2.2. The launch this process is part of (docs/scale-out.md); a
   * process started alone has process_world 1 and the rest empty. When the
   * backend's processes_per_model says G > 1, the consecutive ranks
   * [k*G, (k+1)*G) hold model copy k together, and the first of them
   * drives it. */
  uint32_t process_rank;
  uint32_t process_world;
  uint32_t process_local_rank; /* among the processes on this node */
  /* Where the launch's processes meet: "tcp://HOST:PORT" (a c10d TCPStore
   * that the launch's rank 0 serves) or "file:///PATH" (a c10d FileStore
   * path prefix; a backend adds its own suffix). */
  compass_str rendezvous;
  compass_str launch_id;          /* unique per launch: prefix keys and files with it */
  double process_timeout_seconds; /* how long to wait for the other processes */
} compass_backend_config;

/* Planning output: what would go where, and whether it fits. */
typedef struct compass_placement {
  uint64_t struct_size;
  compass_str module; /* e.g. "model.layers.12", "lm_head" */
  compass_str device;
  uint64_t bytes;
} compass_placement;

typedef struct compass_device_plan {
  uint64_t struct_size;
  compass_str device;
  uint64_t capacity_bytes;
  uint64_t weight_bytes;
  uint64_t cache_bytes;      /* KV cache reserved */
  uint64_t activation_bytes; /* activations and workspace for the chosen batch */
} compass_device_plan;

typedef struct compass_plan_sink {
  void* ctx;
  void (*placement)(void* ctx, const compass_placement* placement);
  void (*device)(void* ctx, const compass_device_plan* device);
  /* Called once at the end. `fits` non-zero when the plan can run. `message`
   * explains a refusal with numbers and a suggestion, or notes. */
  void (*verdict)(void* ctx, int32_t fits, compass_str message);
  compass_figure_sink figures; /* extra numbers, e.g. "kv_cache_tokens" */
} compass_plan_sink;

/* Requests. The host tokenizes, truncates to max_length and splits rolling
 * log-likelihoods into windows, so every backend receives the same token ids
 * and each request already fits. */
typedef enum compass_request_kind {
  /* Sum of log p(continuation | context), and whether it is the greedy
   * continuation. Multiple choice and rolling perplexity are built of these. */
  COMPASS_REQUEST_LOGLIKELIHOOD = 0,
  /* Continue the context until a stop token, a stop string or
   * max_new_tokens; num_samples completions. */
  COMPASS_REQUEST_GENERATE = 1
} compass_request_kind;

typedef struct compass_request {
  uint64_t struct_size;
  uint64_t index;              /* results refer back to it */
  uint32_t kind;               /* compass_request_kind */
  uint32_t num_samples;        /* GENERATE: completions wanted, >= 1 */
  compass_tokens context;      /* non-empty */
  compass_tokens continuation; /* LOGLIKELIHOOD: non-empty */
  /* GENERATE: */
  const compass_str* stop; /* stop strings: generation ends once the
                              continuation's bytes contain one */
  uint64_t num_stop;
  compass_tokens stop_token_ids; /* e.g. EOS ids; not included in the output */
  uint32_t max_new_tokens;
  /* Sampling. temperature 0 = greedy (top_p, top_k, seed unused). Otherwise
   * softmax(logits / temperature) restricted to the top_k most likely ids
   * (0 = all), then to the smallest set whose probability reaches top_p
   * (1 = all); sample s draws from a generator seeded with seed + s, so the
   * same request on the same device gives the same tokens. */
  float temperature;
  float top_p;
  int32_t top_k;
  uint64_t seed;
} compass_request;

typedef enum compass_finish_reason {
  COMPASS_FINISH_LENGTH = 0, /* max_new_tokens reached */
  COMPASS_FINISH_STOP_TOKEN = 1,
  COMPASS_FINISH_STOP_STRING = 2
} compass_finish_reason;

/* One answer: one per LOGLIKELIHOOD request, one per sample of a GENERATE
 * request. */
typedef struct compass_result {
  uint64_t struct_size;
  uint64_t index; /* the request's index */
  uint32_t kind;  /* the request's kind */
  /* COMPASS_OK, or why this request alone failed (e.g. COMPASS_INVALID_ARGUMENT
   * for a token id the model does not know). One bad request must not fail
   * the call: the backend answers it with an error and goes on. */
  int32_t error_code;
  compass_str error_message;
  uint32_t sample;     /* GENERATE: which completion, 0 .. num_samples - 1 */
  int32_t is_greedy;   /* LOGLIKELIHOOD: every continuation token was the argmax */
  double logprob;      /* LOGLIKELIHOOD: sum over the continuation, natural log;
                          GENERATE: sum over the generated tokens */
  uint64_t num_tokens; /* continuation tokens / generated tokens */
  /* Per token (num_tokens entries each), each may be NULL:
   *   token_logprobs:  log-prob of the continuation / generated token;
   *   greedy_tokens:   LOGLIKELIHOOD: the argmax id at that position;
   *   greedy_logprobs: LOGLIKELIHOOD: its log-prob.
   * For "where do two backends first diverge". */
  const float* token_logprobs;
  const int32_t* greedy_tokens;
  const float* greedy_logprobs;
  /* GENERATE: generated ids, up to and including the token that completed a
   * stop string (the host cuts the text); a stop token is not included. */
  compass_tokens tokens;
  uint32_t finish_reason; /* compass_finish_reason */
} compass_result;

/* Where a backend delivers results, each as soon as it is ready, in any
 * order. Thread-safe; `result` is borrowed for the call. Returns 0 to go on;
 * non-zero when the host can take no more (its results store failed, or the
 * user stopped the run): the backend then stops computing and returns
 * promptly (COMPASS_CANCELLED). */
typedef struct compass_response_sink {
  void* ctx;
  int32_t (*result)(void* ctx, const compass_result* result);
} compass_response_sink;

/* What a backend can serve; the host refuses a run that needs more before
 * any weight is loaded. */
typedef enum compass_backend_capability {
  COMPASS_CAN_LOGLIKELIHOOD = 1u << 0,
  COMPASS_CAN_GENERATE = 1u << 1, /* greedy generation */
  COMPASS_CAN_SAMPLE = 1u << 2    /* temperature > 0, num_samples > 1 */
} compass_backend_capability;

typedef struct compass_backend_api {
  compass_abi_header header;
  compass_plugin_info info;
  compass_option_list options; /* keys accepted in [backend.<name>] */
  uint64_t capabilities;       /* compass_backend_capability flags */

  /* Validates `config` and prepares, WITHOUT reading weights (config.json
   * may be read). On success *out is owned by the host, freed with destroy.
   * `host` and `config` (with everything it points to) outlive the backend. */
  compass_status* (*create)(const compass_host_api* host, const compass_backend_config* config,
                            compass_backend** out);
  void (*destroy)(compass_backend* backend); /* NULL is a no-op */

  /* Optional. Placement and memory plan for the config given to create,
   * from config.json alone. Devices may be simulated. Must not read weights.
   * Returns a status only when planning itself failed; "does not fit" is a
   * verdict with fits == 0. */
  compass_status* (*plan)(compass_backend* backend, const compass_plan_sink* sink);

  /* Reads the weights onto the devices. Call once, after create. Reports
   * progress in bytes and returns COMPASS_CANCELLED soon after the user
   * asks to stop. */
  compass_status* (*load)(compass_backend* backend);

  /* Serves `num_requests` requests of any kinds in one call, so that a
   * batching backend never drains between tasks or kinds; the host sends
   * every request of a run it still needs in one call. `requests` is an
   * array of growable structs (step with COMPASS_AT), borrowed for the call.
   * Every request gets its results (one, or num_samples) through `sink`,
   * unless the call returns an error status or the sink asked to stop.
   * Progress and cancellation as for load. */
  compass_status* (*execute)(compass_backend* backend, const compass_request* requests,
                             uint64_t num_requests, const compass_response_sink* sink);

  /* Optional. The backend's own figures since load (timings, memory per
   * device, prefix-sharing ratio, pipeline bubble...). */
  compass_status* (*figures)(compass_backend* backend, const compass_figure_sink* sink);

  /* ABI 2.2, optional (NULL: 1). How many consecutive processes of the
   * launch one copy of the model spans (its ranks or stages are processes),
   * for the config given to create. The host checks that it divides the
   * launch's world, sends each copy's requests to its first process only,
   * and calls serve on the others. */
  uint32_t (*processes_per_model)(compass_backend* backend);
  /* ABI 2.2, optional; required when processes_per_model can exceed 1. On a
   * process that is not the first of its model copy, after load: computes
   * what the copy's first process asks for, until that process's backend is
   * destroyed (then returns NULL) or one of the copy's processes fails or
   * dies (then returns an error naming it). */
  compass_status* (*serve)(compass_backend* backend);
} compass_backend_api;

/* ------------------------------------------------------------------------ */
/* Dataset plugins                                                           */
/* ------------------------------------------------------------------------ */

typedef struct compass_dataset compass_dataset; /* opaque, plugin-allocated */

typedef enum compass_item_kind {
  COMPASS_ITEM_MULTIPLE_CHOICE = 0, /* loglikelihood of each choice */
  COMPASS_ITEM_GENERATE = 1,        /* generate_until, compared to references */
  COMPASS_ITEM_ROLLING = 2          /* loglikelihood_rolling of `context` */
} compass_item_kind;

/* ABI 2.1: the bit of a compass_item_kind in an item_kinds mask. */
#define COMPASS_ITEM_KIND_BIT(kind) ((uint64_t)1 << (kind))

typedef struct compass_dataset_config {
  uint64_t struct_size;
  compass_str path; /* the task's `path`: a file or folder */
  uint32_t num_shots;
  uint64_t seed;  /* few-shot selection */
  uint64_t limit; /* 0 = all items; else the dataset delivers at most `limit`
                     items of each group (subject) it has, or in all when it
                     has none, as lm-evaluation-harness applies --limit */
  /* Dataset-specific keys of the [[task]] table, validated against the
   * plugin's option specs, as a JSON object text. */
  compass_str options_json;
} compass_dataset_config;

typedef struct compass_item {
  uint64_t struct_size;
  compass_str id;             /* stable within the dataset, e.g. "anatomy/test/12" */
  compass_str group;          /* subtask for per-group scores, e.g. "anatomy"; may be "" */
  uint32_t kind;              /* compass_item_kind */
  compass_str context;        /* the full prompt, few-shot examples included */
  const compass_str* choices; /* MULTIPLE_CHOICE: continuations, e.g. " A" */
  uint64_t num_choices;
  int64_t gold;                  /* index of the right choice, -1 if none */
  const compass_str* references; /* GENERATE: accepted answers */
  uint64_t num_references;
  const compass_str* stop; /* GENERATE: stop strings */
  uint64_t num_stop;
  uint32_t max_new_tokens; /* GENERATE: 0 = task default */
  compass_str doc_json;    /* the source record, for per-sample reports */
  /* ABI 2.1. MULTIPLE_CHOICE with partial evaluation (lm-evaluation-
   * harness's "multiple input", as Winogrande is scored): when
   * num_contexts > 0 it equals num_choices, and choice i is the
   * log-likelihood of choices[i] after contexts[i] (each a whole prompt)
   * instead of after `context`, which then holds what every contexts[i]
   * starts with (the few-shot examples). num_contexts = 0: every choice
   * follows `context`. */
  const compass_str* contexts;
  uint64_t num_contexts;
} compass_item;

typedef struct compass_item_sink {
  void* ctx;
  /* `item` and everything it points to are borrowed for the call. Returns
   * non-zero to ask the dataset to stop early (no error). */
  int32_t (*item)(void* ctx, const compass_item* item);
} compass_item_sink;

/* ABI 2.1. What a task of a dataset will deliver, known from its config
 * before any data is read: the host chooses the task's scorer from it and
 * checks that the scorer accepts these items before any weight is loaded. */
typedef struct compass_task_info {
  uint64_t struct_size;
  uint64_t item_kinds; /* bit (1 << compass_item_kind) for each kind of item */
  /* The scorer for this task when the task names none ("" = the table's
   * default_scorer), and its options as a JSON object text ("" = none),
   * used when the task gives no scorer options. */
  compass_str scorer;
  compass_str scorer_options_json;
  /* Few-shot examples the dataset's own task definition asks for, used
   * when the task sets no `shots`; -1 = no such default. */
  int64_t num_shots;
} compass_task_info;

typedef struct compass_task_info_sink {
  void* ctx;
  /* `info` and its strings are borrowed for the call. */
  void (*info)(void* ctx, const compass_task_info* info);
} compass_task_info_sink;

typedef struct compass_dataset_api {
  compass_abi_header header;
  compass_plugin_info info;
  compass_option_list options; /* extra keys accepted in a [[task]] table */
  compass_str default_scorer;  /* scorer used when the task names none */

  /* Opens and validates the data (a malformed row is an error naming file
   * and line). *out is owned by the host, freed with destroy. */
  compass_status* (*create)(const compass_host_api* host, const compass_dataset_config* config,
                            compass_dataset** out);
  void (*destroy)(compass_dataset* dataset);
  /* Delivers every item, in a deterministic order, to `sink`. */
  compass_status* (*items)(compass_dataset* dataset, const compass_item_sink* sink);

  /* ABI 2.1, optional. Describes the task `config` defines (its
   * options_json already validated against `options`) through one call of
   * sink->info, reading no more than the task's definition; an invalid
   * definition is an error, as create would give it. */
  compass_status* (*describe)(const compass_host_api* host, const compass_dataset_config* config,
                              const compass_task_info_sink* sink);
} compass_dataset_api;

/* ------------------------------------------------------------------------ */
/* Scorer plugins                                                            */
/* ------------------------------------------------------------------------ */

typedef struct compass_scorer compass_scorer; /* opaque, plugin-allocated */

typedef struct compass_choice_output {
  uint64_t struct_size;
  double logprob;
  int32_t is_greedy;
  uint64_t num_tokens;
} compass_choice_output;

/* What the model produced for one item. */
typedef struct compass_model_output {
  uint64_t struct_size;
  const compass_choice_output* choices; /* MULTIPLE_CHOICE: one per choice (COMPASS_AT) */
  uint64_t num_choices;
  compass_str text;    /* GENERATE: continuation, cut before the stop string */
  double logprob;      /* ROLLING: total log-prob of the text */
  uint64_t num_tokens; /* ROLLING and GENERATE: tokens scored / generated */
  /* GENERATE: every completion's text when the task asked for several
   * (samples[0] is `text`); num_samples is 1 otherwise. */
  const compass_str* samples;
  uint64_t num_samples;
} compass_model_output;

typedef struct compass_sample_metric {
  uint64_t struct_size;
  compass_str name; /* e.g. "acc", "acc_norm", "exact_match", "bits_per_byte" */
  double value;
  double weight;          /* aggregate = weighted mean; 1 for plain means */
  compass_str prediction; /* optional: what the scorer read, e.g. "B", "42" */
} compass_sample_metric;

typedef struct compass_metric_sink {
  void* ctx;
  void (*metric)(void* ctx, const compass_sample_metric* metric);
} compass_metric_sink;

/* Written by the scorer: the host sets struct_size, the scorer fills the
 * fields that lie inside it. */
typedef struct compass_aggregate {
  uint64_t struct_size;
  double value;
  double stderr_value;       /* standard error; NaN when not defined */
  compass_str stderr_method; /* "analytic" | "bootstrap"; static storage */
  uint64_t count;
  int32_t higher_is_better;
} compass_aggregate;

typedef struct compass_scorer_api {
  compass_abi_header header;
  compass_plugin_info info;
  compass_option_list options; /* keys accepted as [task.scorer_options] */

  compass_status* (*create)(const compass_host_api* host, compass_str options_json,
                            compass_scorer** out);
  void (*destroy)(compass_scorer* scorer);

  /* Scores one item. Reports one or more metrics for it. */
  compass_status* (*score)(compass_scorer* scorer, const compass_item* item,
                           const compass_model_output* output, const compass_metric_sink* sink);

  /* Aggregates the per-sample (value, weight) pairs of one metric over a
   * task or group. `values` and `weights` have `count` entries. */
  compass_status* (*aggregate)(compass_scorer* scorer, compass_str metric, const double* values,
                               const double* weights, uint64_t count, compass_aggregate* out);

  /* ABI 2.1: bit (1 << compass_item_kind) for each kind of item score()
   * accepts; 0 = not declared (the host cannot check before the run). */
  uint64_t item_kinds;
} compass_scorer_api;

/* Entry point signatures. */
typedef const compass_backend_api* (*compass_backend_entry_fn)(void);
typedef const compass_dataset_api* (*compass_dataset_entry_fn)(void);
typedef const compass_scorer_api* (*compass_scorer_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* COMPASS_PLUGIN_H_ */
