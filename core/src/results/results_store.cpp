#include "results/results_store.h"

#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace compass {
namespace {

// Version 2 keys every table by run label, so that one database holds
// several runs (a comparison's backends); version 1 held one run and is
// upgraded in place when opened.
constexpr int kSchemaVersion = 2;
constexpr char kApplicationId[] = "1129136979";  // 'COMS' as a 32-bit integer

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS run (
  label TEXT PRIMARY KEY,
  config_text TEXT, config_hash TEXT, compass_version TEXT, git_hash TEXT,
  backend TEXT, backend_version TEXT, model_path TEXT, dtype TEXT,
  devices_json TEXT, backend_options_json TEXT,
  started_at TEXT, finished_at TEXT, seconds REAL, notes_json TEXT);
CREATE TABLE IF NOT EXISTS responses (
  label TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, logprob REAL, is_greedy INTEGER,
  num_tokens INTEGER, tokens_json TEXT, finish_reason INTEGER,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), token_logprobs_json TEXT,
  PRIMARY KEY (label, hash));
CREATE TABLE IF NOT EXISTS tasks (
  label TEXT NOT NULL, name TEXT NOT NULL, dataset TEXT, scorer TEXT, items INTEGER,
  requests INTEGER, computed INTEGER, seconds REAL, ordinal INTEGER, PRIMARY KEY (label, name));
CREATE TABLE IF NOT EXISTS samples (
  label TEXT NOT NULL, task TEXT, item_id TEXT, grp TEXT, ordinal INTEGER, sample_json TEXT,
  metrics_json TEXT, PRIMARY KEY (label, task, item_id));
CREATE TABLE IF NOT EXISTS aggregates (
  label TEXT NOT NULL, task TEXT, grp TEXT, metric TEXT, value REAL, stderr REAL,
  stderr_method TEXT, count INTEGER, higher_is_better INTEGER,
  PRIMARY KEY (label, task, grp, metric));
CREATE TABLE IF NOT EXISTS figures (label TEXT NOT NULL, name TEXT, scope TEXT, value REAL,
  unit INTEGER, PRIMARY KEY (label, name, scope));
)sql";

// Version 1 -> 2: each table is rebuilt with its rows under label ''.
constexpr char kUpgradeFromVersion1[] = R"sql(
ALTER TABLE run RENAME TO run_v1;
ALTER TABLE responses RENAME TO responses_v1;
ALTER TABLE tasks RENAME TO tasks_v1;
ALTER TABLE samples RENAME TO samples_v1;
ALTER TABLE aggregates RENAME TO aggregates_v1;
ALTER TABLE figures RENAME TO figures_v1;
)sql";
constexpr char kCopyVersion1[] = R"sql(
INSERT INTO run SELECT '', config_text, config_hash, compass_version, git_hash, backend,
  backend_version, model_path, dtype, devices_json, backend_options_json, started_at,
  finished_at, seconds, notes_json FROM run_v1;
INSERT INTO responses SELECT '', hash, kind, logprob, is_greedy, num_tokens, tokens_json,
  finish_reason, created_at, %TOKEN_LOGPROBS% FROM responses_v1;
INSERT INTO tasks SELECT '', name, dataset, scorer, items, requests, computed, seconds, ordinal
  FROM tasks_v1;
INSERT INTO samples SELECT '', task, item_id, grp, ordinal, sample_json, metrics_json
  FROM samples_v1;
INSERT INTO aggregates SELECT '', task, grp, metric, value, stderr, stderr_method, count,
  higher_is_better FROM aggregates_v1;
INSERT INTO figures SELECT '', name, scope, value, unit FROM figures_v1;
DROP TABLE run_v1; DROP TABLE responses_v1; DROP TABLE tasks_v1; DROP TABLE samples_v1;
DROP TABLE aggregates_v1; DROP TABLE figures_v1;
)sql";

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    prepared_ = rc_ == SQLITE_OK;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return prepared_; }
  Stmt& Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return rc_ = sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  bool IsNumber(int col) const {
    const int t = sqlite3_column_type(stmt_, col);
    return t == SQLITE_FLOAT || t == SQLITE_INTEGER;
  }
  int rc() const { return rc_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  bool prepared_ = false;
};

// A value of the wrong type where a number belongs (or NULL where one is
// required) was not written by Compass: corruption, never read as 0.
Status Corrupt(const std::string& path, const std::string& what) {
  return DataLoss(path + ": " + what +
                  "; the database was changed outside Compass: move it away (or pass --restart) "
                  "to compute these results again");
}

}  // namespace

Status ResultsStore::Error(const std::string& what) const {
  std::string detail = sqlite3_errmsg(db_);
  // A failed write says why ("No space left on device"); a short write
  // leaves no errno behind.
  const int code = sqlite3_errcode(db_);
  if (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN) {
    if (const int error = sqlite3_system_errno(db_); error != 0) {
      detail += std::string(" (") + std::strerror(error) + ")";
    } else if (sqlite3_extended_errcode(db_) == SQLITE_IOERR_WRITE) {
      detail += " (a write fell short: is the disk full?)";
    }
  }
  return IoError(path_ + ": " + what + ": " + detail);
}

Status ResultsStore::Exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return IoError(path_ + ": " + msg);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<ResultsStore>> ResultsStore::Open(const std::string& dir,
                                                           const std::string& label) {
  return OpenImpl(dir, (std::filesystem::path(dir) / kFileName).string(), label, true);
}
StatusOr<std::unique_ptr<ResultsStore>> ResultsStore::OpenExisting(const std::string& dir,
                                                                   const std::string& label) {
  return OpenImpl(dir, (std::filesystem::path(dir) / kFileName).string(), label, false);
}
StatusOr<std::unique_ptr<ResultsStore>> ResultsStore::OpenFile(const std::string& path,
                                                               const std::string& label,
                                                               bool create) {
  return OpenImpl(std::filesystem::path(path).parent_path().string(), path, label, create);
}

StatusOr<std::unique_ptr<ResultsStore>> ResultsStore::OpenImpl(const std::string& dir,
                                                               const std::string& path,
                                                               const std::string& label,
                                                               bool create) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (create) {
    fs::create_directories(dir, ec);
    if (ec) {
      return IoError("cannot create the output folder " + dir + ": " + ec.message() +
                     "; choose a writable folder with --output");
    }
  } else if (!fs::exists(path, ec)) {
    return NotFound(path + " does not exist: " + dir + " is not a Compass run folder");
  }
  auto open = [&](bool writable) -> StatusOr<std::unique_ptr<ResultsStore>> {
    sqlite3* db = nullptr;
    const int flags =
        writable ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      return IoError(path + ": cannot open: " + msg + "; choose a writable folder with --output");
    }
    sqlite3_busy_timeout(db, 5000);
    return std::unique_ptr<ResultsStore>(new ResultsStore(db, path, label));
  };
  COMPASS_ASSIGN_OR_RETURN(std::unique_ptr<ResultsStore> store, open(create));
  sqlite3* db = store->db_;
  // A file that is not SQLite, or is another application's database, is
  // refused: it may hold someone's data. (Statements are scoped: an open one
  // would keep a read transaction and block the switch to WAL.)
  auto unreadable = [&] {
    return DataLoss(path + " is not a readable results database (" + sqlite3_errmsg(db) +
                    "); it was left untouched: move it away or choose another --output");
  };
  int64_t app_id = 0, version = 0;
  bool empty = false;
  {
    Stmt check(db, "PRAGMA application_id");
    if (!check.ok() || check.Step() != SQLITE_ROW) return unreadable();
    app_id = check.Int(0);
    Stmt user_version(db, "PRAGMA user_version");
    if (!user_version.ok() || user_version.Step() != SQLITE_ROW) return unreadable();
    version = user_version.Int(0);
    Stmt tables(db, "SELECT count(*) FROM sqlite_master");
    if (!tables.ok() || tables.Step() != SQLITE_ROW) return unreadable();
    empty = tables.Int(0) == 0;
  }
  if (!empty && app_id != std::stoll(kApplicationId)) {
    return DataLoss(path +
                    " is not a Compass results database; it was left untouched: "
                    "choose another --output");
  }
  if (!empty && version > kSchemaVersion) {
    return Unsupported(path + " was written by a newer Compass (results schema " +
                       std::to_string(version) + ", this build reads up to " +
                       std::to_string(kSchemaVersion) + "); use that version to read it");
  }
  const bool upgrade = !empty && version < kSchemaVersion;
  if (!create && upgrade) {
    // Reading an older database upgrades it once, in place.
    store.reset();
    COMPASS_ASSIGN_OR_RETURN(store, open(true));
    db = store->db_;
  }
  if (create || upgrade) {
    {
      Stmt integrity(db, "PRAGMA quick_check");
      if (!integrity.ok() || integrity.Step() != SQLITE_ROW || integrity.Text(0) != "ok") {
        return DataLoss(path + " is corrupted (" +
                        (integrity.ok() ? integrity.Text(0) : std::string(sqlite3_errmsg(db))) +
                        "); it was left untouched: move it away to start over, or choose "
                        "another --output");
      }
    }
    COMPASS_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
    if (upgrade) COMPASS_RETURN_IF_ERROR(store->UpgradeFromVersion1());
    if (empty || upgrade) {
      COMPASS_RETURN_IF_ERROR(
          store->Exec((std::string("PRAGMA application_id=") + kApplicationId +
                       "; PRAGMA user_version=" + std::to_string(kSchemaVersion) + ";")
                          .c_str()));
    }
    COMPASS_RETURN_IF_ERROR(store->Exec(kSchema));
  }
  return store;
}

Status ResultsStore::UpgradeFromVersion1() {
  bool has_token_logprobs = false;
  {
    // Databases written before token log-probs were stored lack the column.
    Stmt columns(db_,
                 "SELECT count(*) FROM pragma_table_info('responses') "
                 "WHERE name = 'token_logprobs_json'");
    has_token_logprobs = columns.ok() && columns.Step() == SQLITE_ROW && columns.Int(0) > 0;
  }
  std::string copy = kCopyVersion1;
  const std::string marker = "%TOKEN_LOGPROBS%";
  copy.replace(copy.find(marker), marker.size(),
               has_token_logprobs ? "token_logprobs_json" : "NULL");
  const std::string script =
      std::string("BEGIN; ") + kUpgradeFromVersion1 + kSchema + copy + " COMMIT;";
  Status s = Exec(script.c_str());
  if (!s.ok()) {
    Exec("ROLLBACK");
    return IoError(s.message() + " (upgrading the results database; it was left as it was)");
  }
  return Status::Ok();
}

ResultsStore::~ResultsStore() {
  sqlite3_close(db_);
}

StatusOr<std::vector<std::string>> ResultsStore::Labels() const {
  Stmt s(db_, "SELECT label FROM run ORDER BY label");
  if (!s.ok()) return Error("reading the runs");
  std::vector<std::string> out;
  while (s.Step() == SQLITE_ROW) out.push_back(s.Text(0));
  return out;
}

Status ResultsStore::DeleteRun() {
  static constexpr const char* kTables[] = {"run",     "responses",  "tasks",
                                            "samples", "aggregates", "figures"};
  COMPASS_RETURN_IF_ERROR(Exec("BEGIN"));
  for (const char* table : kTables) {
    Stmt del(db_, (std::string("DELETE FROM ") + table + " WHERE label = ?").c_str());
    del.Bind(1, label_);
    if (!del.ok() || del.Step() != SQLITE_DONE) {
      Status s = Error(std::string("discarding the stored ") + table);
      Exec("ROLLBACK");
      return s;
    }
  }
  return Exec("COMMIT");
}

Status ResultsStore::BeginRun(const RunMetadata& meta, bool restart) {
  Stmt get(db_, "SELECT config_hash, backend FROM run WHERE label = ?");
  if (!get.ok()) return Error("reading the run");
  get.Bind(1, label_);
  if (get.Step() == SQLITE_ROW) {
    const std::string hash = get.Text(0), backend = get.Text(1);
    if (hash != meta.config_hash || backend != meta.backend) {
      if (!restart) {
        return InvalidArgument(path_ + " holds results of a different run" + Where() + " (" +
                               (backend != meta.backend ? "backend '" + backend + "'"
                                                        : std::string("another config")) +
                               "); pass --restart to discard them, or choose another --output");
      }
      COMPASS_RETURN_IF_ERROR(DeleteRun());
    } else if (restart) {
      COMPASS_RETURN_IF_ERROR(DeleteRun());
    } else {
      return Status::Ok();  // resuming the same run
    }
  }
  Stmt put(db_,
           "INSERT OR REPLACE INTO run (label, config_text, config_hash, compass_version, git_hash,"
           " backend, backend_version, model_path, dtype, devices_json, backend_options_json,"
           " started_at, notes_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  put.Bind(1, label_).Bind(2, meta.config_text).Bind(3, meta.config_hash);
  put.Bind(4, meta.compass_version).Bind(5, meta.git_hash).Bind(6, meta.backend);
  put.Bind(7, meta.backend_version).Bind(8, meta.model_path).Bind(9, meta.dtype);
  put.Bind(10, meta.devices_json).Bind(11, meta.backend_options_json);
  put.Bind(12, meta.started_at).Bind(13, meta.notes_json);
  if (!put.ok() || put.Step() != SQLITE_DONE) return Error("recording the run");
  return Status::Ok();
}

std::string ResultsStore::Where() const {
  return label_.empty() ? std::string() : " under '" + label_ + "'";
}

StatusOr<RunMetadata> ResultsStore::Run() const {
  Stmt s(db_,
         "SELECT config_text, config_hash, compass_version, git_hash, backend, backend_version,"
         " model_path, dtype, devices_json, backend_options_json, started_at, finished_at,"
         " seconds, notes_json FROM run WHERE label = ?");
  if (!s.ok()) return Error("reading the run");
  s.Bind(1, label_);
  if (s.Step() != SQLITE_ROW) return NotFound(path_ + " holds no run" + Where());
  RunMetadata m;
  m.config_text = s.Text(0);
  m.config_hash = s.Text(1);
  m.compass_version = s.Text(2);
  m.git_hash = s.Text(3);
  m.backend = s.Text(4);
  m.backend_version = s.Text(5);
  m.model_path = s.Text(6);
  m.dtype = s.Text(7);
  m.devices_json = s.Text(8);
  m.backend_options_json = s.Text(9);
  m.started_at = s.Text(10);
  m.finished_at = s.Text(11);
  m.seconds = s.Double(12);
  m.notes_json = s.Text(13).empty() ? "[]" : s.Text(13);
  return m;
}

Status ResultsStore::FinishRun(const std::string& finished_at, double seconds,
                               const std::string& notes_json) {
  Stmt s(db_, "UPDATE run SET finished_at = ?, seconds = ?, notes_json = ? WHERE label = ?");
  s.Bind(1, finished_at).Bind(2, seconds).Bind(3, notes_json).Bind(4, label_);
  if (!s.ok() || s.Step() != SQLITE_DONE) return Error("finishing the run");
  return Status::Ok();
}

StatusOr<std::map<std::string, StoredResponse>> ResultsStore::Responses(
    const std::set<std::string>& hashes) const {
  std::map<std::string, StoredResponse> out;
  Stmt s(db_,
         "SELECT kind, logprob, is_greedy, num_tokens, tokens_json, finish_reason,"
         " token_logprobs_json FROM responses WHERE label = ? AND hash = ?");
  if (!s.ok()) return Error("reading responses");
  for (const auto& h : hashes) {
    s.Bind(1, label_).Bind(2, h);
    if (s.Step() == SQLITE_ROW) {
      const std::string where = "the response " + h + Where();
      if (!s.IsNumber(1)) return Corrupt(path_, where + " has no numeric log-prob");
      if (!s.IsNumber(2) || !s.IsNumber(3) || !s.IsNumber(5)) {
        return Corrupt(path_, where + " has a non-numeric field");
      }
      StoredResponse r;
      r.hash = h;
      r.kind = s.Text(0);
      r.logprob = s.Double(1);
      r.is_greedy = s.Int(2) != 0;
      r.num_tokens = static_cast<uint64_t>(s.Int(3));
      const std::string tokens = s.Text(4);
      if (!tokens.empty()) {
        const auto parsed = nlohmann::json::parse(tokens, nullptr, false);
        if (!parsed.is_array()) return Corrupt(path_, where + " has unreadable tokens");
        for (const auto& v : parsed) {
          // Token ids are int32: a larger number was not written by Compass.
          if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN ||
              v.get<int64_t>() > INT32_MAX ||
              (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX)) {
            return Corrupt(path_, where + " has unreadable tokens");
          }
          r.tokens.push_back(static_cast<int32_t>(v.get<int64_t>()));
        }
      }
      r.finish_reason = static_cast<uint32_t>(s.Int(5));
      const std::string token_logprobs = s.Text(6);
      if (!token_logprobs.empty()) {
        const auto parsed = nlohmann::json::parse(token_logprobs, nullptr, false);
        if (!parsed.is_array()) return Corrupt(path_, where + " has unreadable token log-probs");
        for (const auto& v : parsed) {
          // Stored from floats: a number beyond float was not written by Compass.
          if (!v.is_number() || !(std::fabs(v.get<double>()) <= FLT_MAX)) {
            return Corrupt(path_, where + " has a token log-prob that is no float");
          }
          r.token_logprobs.push_back(static_cast<float>(v.get<double>()));
        }
      }
      out.emplace(h, std::move(r));
    } else if (s.rc() != SQLITE_DONE) {
      return Error("reading responses");
    }
    s.Reset();
  }
  return out;
}

Status ResultsStore::PutResponse(const StoredResponse& r) {
  // SQLite stores NaN as NULL: a non-finite value would come back as no
  // value at all, so it is refused here (the runner makes it a failed
  // request before it gets this far).
  bool finite = std::isfinite(r.logprob);
  for (float v : r.token_logprobs) finite = finite && std::isfinite(v);
  if (!finite) {
    return InvalidArgument(path_ + ": the response " + r.hash +
                           " has a non-finite log-prob and is not stored");
  }
  Stmt s(db_,
         "INSERT OR REPLACE INTO responses (label, hash, kind, logprob, is_greedy, num_tokens,"
         " tokens_json, finish_reason, token_logprobs_json) VALUES (?,?,?,?,?,?,?,?,?)");
  s.Bind(1, label_).Bind(2, r.hash).Bind(3, r.kind).Bind(4, r.logprob);
  s.Bind(5, int64_t{r.is_greedy}).Bind(6, static_cast<int64_t>(r.num_tokens));
  s.Bind(7, r.tokens.empty() ? std::string() : nlohmann::json(r.tokens).dump());
  s.Bind(8, static_cast<int64_t>(r.finish_reason));
  s.Bind(9, r.token_logprobs.empty() ? std::string() : nlohmann::json(r.token_logprobs).dump());
  if (!s.ok() || s.Step() != SQLITE_DONE) return Error("storing a response");
  return Status::Ok();
}

Status ResultsStore::PutResponses(const std::vector<StoredResponse>& responses) {
  COMPASS_RETURN_IF_ERROR(Exec("BEGIN"));
  for (const StoredResponse& r : responses) {
    if (Status s = PutResponse(r); !s.ok()) {
      (void)Exec("ROLLBACK");
      return s;
    }
  }
  return Exec("COMMIT");
}

StatusOr<uint64_t> ResultsStore::CountResponses() const {
  Stmt s(db_, "SELECT count(*) FROM responses WHERE label = ?");
  if (!s.ok()) return Error("counting responses");
  s.Bind(1, label_);
  if (s.Step() != SQLITE_ROW) return Error("counting responses");
  return static_cast<uint64_t>(s.Int(0));
}

StatusOr<std::set<std::string>> ResultsStore::ResponseHashes() const {
  Stmt s(db_, "SELECT hash FROM responses WHERE label = ?");
  if (!s.ok()) return Error("reading responses");
  s.Bind(1, label_);
  std::set<std::string> out;
  while (s.Step() == SQLITE_ROW) out.insert(s.Text(0));
  return out;
}

Status ResultsStore::PutTask(const StoredTask& task, const std::vector<StoredSample>& samples,
                             const std::vector<StoredAggregate>& aggregates) {
  COMPASS_RETURN_IF_ERROR(Exec("BEGIN"));
  auto fail = [&](const std::string& what) {
    Status s = Error(what);
    Exec("ROLLBACK");
    return s;
  };
  {
    Stmt t(db_,
           "INSERT OR REPLACE INTO tasks (label, name, dataset, scorer, items, requests,"
           " computed, seconds, ordinal) VALUES (?,?,?,?,?,?,?,?,?)");
    t.Bind(1, label_).Bind(2, task.name).Bind(3, task.dataset).Bind(4, task.scorer);
    t.Bind(5, static_cast<int64_t>(task.items)).Bind(6, static_cast<int64_t>(task.requests));
    t.Bind(7, static_cast<int64_t>(task.computed)).Bind(8, task.seconds);
    t.Bind(9, static_cast<int64_t>(task.ordinal));
    if (!t.ok() || t.Step() != SQLITE_DONE) return fail("storing a task");
    Stmt del(db_, "DELETE FROM samples WHERE label = ? AND task = ?");
    del.Bind(1, label_).Bind(2, task.name);
    if (!del.ok() || del.Step() != SQLITE_DONE) return fail("replacing samples");
    Stmt del2(db_, "DELETE FROM aggregates WHERE label = ? AND task = ?");
    del2.Bind(1, label_).Bind(2, task.name);
    if (!del2.ok() || del2.Step() != SQLITE_DONE) return fail("replacing aggregates");
    Stmt s(db_,
           "INSERT INTO samples (label, task, item_id, grp, ordinal, sample_json, metrics_json)"
           " VALUES (?,?,?,?,?,?,?)");
    if (!s.ok()) return fail("storing samples");
    for (const auto& x : samples) {
      s.Bind(1, label_).Bind(2, task.name).Bind(3, x.item_id).Bind(4, x.group);
      s.Bind(5, static_cast<int64_t>(x.ordinal)).Bind(6, x.sample_json);
      s.Bind(7, nlohmann::json(x.metrics).dump());
      if (s.Step() != SQLITE_DONE) return fail("storing sample " + x.item_id);
      s.Reset();
    }
    Stmt a(db_,
           "INSERT INTO aggregates (label, task, grp, metric, value, stderr, stderr_method,"
           " count, higher_is_better) VALUES (?,?,?,?,?,?,?,?,?)");
    if (!a.ok()) return fail("storing aggregates");
    for (const auto& x : aggregates) {
      a.Bind(1, label_).Bind(2, task.name).Bind(3, x.group).Bind(4, x.metric);
      if (!std::isnan(x.value)) a.Bind(5, x.value);
      if (!std::isnan(x.stderr_value)) a.Bind(6, x.stderr_value);
      a.Bind(7, x.stderr_method).Bind(8, static_cast<int64_t>(x.count));
      a.Bind(9, int64_t{x.higher_is_better});
      if (a.Step() != SQLITE_DONE) return fail("storing aggregate " + x.metric);
      a.Reset();
    }
  }
  return Exec("COMMIT");
}

Status ResultsStore::PutFigures(const std::vector<StoredFigure>& figures) {
  COMPASS_RETURN_IF_ERROR(Exec("BEGIN"));
  auto fail = [&] {
    Status st = Error("storing figures");
    Exec("ROLLBACK");
    return st;
  };
  {
    Stmt del(db_, "DELETE FROM figures WHERE label = ?");
    del.Bind(1, label_);
    if (!del.ok() || del.Step() != SQLITE_DONE) return fail();
    Stmt s(db_,
           "INSERT OR REPLACE INTO figures (label, name, scope, value, unit) VALUES (?,?,?,?,?)");
    for (const auto& f : figures) {
      s.Bind(1, label_).Bind(2, f.name).Bind(3, f.scope).Bind(4, f.value);
      s.Bind(5, static_cast<int64_t>(f.unit));
      if (!s.ok() || s.Step() != SQLITE_DONE) return fail();
      s.Reset();
    }
  }
  return Exec("COMMIT");
}

StatusOr<std::vector<StoredTask>> ResultsStore::Tasks() const {
  Stmt s(db_,
         "SELECT name, dataset, scorer, items, requests, computed, seconds, ordinal FROM tasks"
         " WHERE label = ? ORDER BY ordinal, name");
  if (!s.ok()) return Error("reading tasks");
  s.Bind(1, label_);
  std::vector<StoredTask> out;
  while (s.Step() == SQLITE_ROW) {
    out.push_back({s.Text(0), s.Text(1), s.Text(2), static_cast<uint64_t>(s.Int(3)),
                   static_cast<uint64_t>(s.Int(4)), static_cast<uint64_t>(s.Int(5)), s.Double(6),
                   static_cast<uint64_t>(s.Int(7))});
  }
  return out;
}

StatusOr<std::vector<StoredSample>> ResultsStore::Samples(const std::string& task) const {
  Stmt s(db_,
         "SELECT item_id, grp, ordinal, sample_json, metrics_json FROM samples"
         " WHERE label = ? AND task = ? ORDER BY ordinal");
  if (!s.ok()) return Error("reading samples");
  s.Bind(1, label_).Bind(2, task);
  std::vector<StoredSample> out;
  while (s.Step() == SQLITE_ROW) {
    StoredSample x;
    x.task = task;
    x.item_id = s.Text(0);
    x.group = s.Text(1);
    x.ordinal = static_cast<uint64_t>(s.Int(2));
    x.sample_json = s.Text(3);
    // JSON has no NaN: a metric stored as null was not computed.
    const auto metrics = nlohmann::json::parse(s.Text(4), nullptr, false);
    if (!metrics.is_object()) {
      return Corrupt(path_, "the metrics of sample " + x.item_id + " of " + task + Where() +
                                " are unreadable");
    }
    for (const auto& [name, value] : metrics.items()) {
      if (value.is_number()) {
        x.metrics[name] = value.get<double>();
      } else if (value.is_null()) {
        x.metrics[name] = std::nan("");
      } else {
        return Corrupt(path_, "the metric " + name + " of sample " + x.item_id + " of " + task +
                                  Where() + " is not a number");
      }
    }
    out.push_back(std::move(x));
  }
  return out;
}

StatusOr<std::vector<StoredAggregate>> ResultsStore::Aggregates(const std::string& task) const {
  Stmt s(db_,
         "SELECT grp, metric, value, stderr, stderr_method, count, higher_is_better FROM"
         " aggregates WHERE label = ? AND task = ? ORDER BY grp <> '', grp, metric");
  if (!s.ok()) return Error("reading aggregates");
  s.Bind(1, label_).Bind(2, task);
  std::vector<StoredAggregate> out;
  while (s.Step() == SQLITE_ROW) {
    StoredAggregate a;
    a.task = task;
    a.group = s.Text(0);
    a.metric = s.Text(1);
    // NULL: not computed (NaN); any other non-number is corruption.
    for (int col : {2, 3}) {
      if (!s.IsNull(col) && !s.IsNumber(col)) {
        return Corrupt(path_,
                       "the aggregate " + a.metric + " of " + task + Where() + " is not a number");
      }
    }
    a.value = s.IsNull(2) ? std::nan("") : s.Double(2);
    a.stderr_value = s.IsNull(3) ? std::nan("") : s.Double(3);
    a.stderr_method = s.Text(4);
    a.count = static_cast<uint64_t>(s.Int(5));
    a.higher_is_better = s.Int(6) != 0;
    out.push_back(std::move(a));
  }
  return out;
}

StatusOr<std::vector<StoredFigure>> ResultsStore::Figures() const {
  Stmt s(db_, "SELECT name, scope, value, unit FROM figures WHERE label = ? ORDER BY name, scope");
  if (!s.ok()) return Error("reading figures");
  s.Bind(1, label_);
  std::vector<StoredFigure> out;
  while (s.Step() == SQLITE_ROW) {
    if (!s.IsNumber(2))
      return Corrupt(path_, "the figure " + s.Text(0) + Where() + " is not a number");
    out.push_back({s.Text(0), s.Text(1), s.Double(2), static_cast<uint32_t>(s.Int(3))});
  }
  return out;
}

}  // namespace compass
