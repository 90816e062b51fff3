#include "report/report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/report_format.h"
#include "util/atomic_file.h"
#include "util/strings.h"

namespace compass {
namespace {

// The run's notes (dtype fallback, failed requests), as strings.
std::vector<std::string> Notes(const RunMetadata& run) {
  std::vector<std::string> out;
  const nlohmann::json notes = nlohmann::json::parse(run.notes_json, nullptr, false);
  if (!notes.is_array()) return out;
  for (const auto& n : notes) {
    if (n.is_string()) out.push_back(n.get<std::string>());
  }
  return out;
}

using json = nlohmann::json;
using namespace report_format;  // NOLINT: the helpers shared with comparison.cpp
namespace fs = std::filesystem;

struct TaskData {
  StoredTask task;
  std::vector<StoredAggregate> aggregates;
};

StatusOr<std::vector<TaskData>> LoadTasks(const ResultsStore& store) {
  COMPASS_ASSIGN_OR_RETURN(auto tasks, store.Tasks());
  std::vector<TaskData> out;
  for (auto& t : tasks) {
    COMPASS_ASSIGN_OR_RETURN(auto aggregates, store.Aggregates(t.name));
    out.push_back({std::move(t), std::move(aggregates)});
  }
  return out;
}

json ResultsJson(const RunMetadata& run, const std::vector<TaskData>& tasks,
                 const std::vector<StoredFigure>& figures) {
  json out;
  out["compass_version"] = run.compass_version;
  out["git_hash"] = run.git_hash;
  out["started_at"] = run.started_at;
  out["finished_at"] = run.finished_at;
  out["seconds"] = run.seconds;
  out["model"] = {{"path", run.model_path}, {"dtype", run.dtype}};
  out["backend"] = {{"name", run.backend},
                    {"version", run.backend_version},
                    {"options", json::parse(run.backend_options_json, nullptr, false)}};
  out["devices"] = json::parse(run.devices_json, nullptr, false);
  out["notes"] = json::parse(run.notes_json, nullptr, false);
  out["config"] = run.config_text;
  out["tasks"] = json::array();
  for (const auto& t : tasks) {
    json task = {{"name", t.task.name},         {"dataset", t.task.dataset},
                 {"scorer", t.task.scorer},     {"items", t.task.items},
                 {"requests", t.task.requests}, {"seconds", t.task.seconds},
                 {"metrics", json::object()},   {"groups", json::object()}};
    for (const auto& a : t.aggregates) {
      json m = {{"value", NumberOrNull(a.value)},
                {"stderr", NumberOrNull(a.stderr_value)},
                {"stderr_method", a.stderr_method},
                {"count", a.count},
                {"higher_is_better", a.higher_is_better}};
      if (a.group.empty()) {
        task["metrics"][a.metric] = m;
      } else {
        task["groups"][a.group][a.metric] = m;
      }
    }
    out["tasks"].push_back(task);
  }
  out["figures"] = json::array();
  for (const auto& f : figures) {
    out["figures"].push_back(
        {{"name", f.name}, {"scope", f.scope}, {"value", f.value}, {"unit", f.unit}});
  }
  return out;
}

std::string Markdown(const RunMetadata& run, const std::vector<TaskData>& tasks,
                     const std::vector<StoredFigure>& figures) {
  std::ostringstream md;
  md << "# Compass report\n\n";
  md << "- backend: `" << run.backend << "` " << run.backend_version << "\n";
  md << "- model: `" << run.model_path << "` (" << run.dtype << ")\n";
  md << "- compass " << run.compass_version << " (" << run.git_hash << "), " << run.started_at
     << " to " << run.finished_at << ", " << Fixed(run.seconds, 1) << " s\n";
  for (const auto& note : Notes(run)) md << "- note: " << note << "\n";
  md << "\n| task | group | metric | value | stderr | n |\n|---|---|---|---:|---:|---:|\n";
  for (const auto& t : tasks) {
    for (const auto& a : t.aggregates) {
      md << "| " << MdCell(t.task.name) << " | " << MdCell(a.group.empty() ? "(all)" : a.group)
         << " | " << MdCell(a.metric) << (a.higher_is_better ? " ↑" : " ↓") << " | "
         << Fixed(a.value) << " | " << Fixed(a.stderr_value) << " (" << a.stderr_method << ") | "
         << a.count << " |\n";
    }
  }
  if (!figures.empty()) {
    md << "\n## Backend figures\n\n| figure | scope | value |\n|---|---|---:|\n";
    for (const auto& f : figures) {
      md << "| " << MdCell(f.name) << " | " << MdCell(f.scope) << " | " << FigureText(f) << " |\n";
    }
  }
  md << "\nPer-sample results: `samples.jsonl`. Exact prompts are in its `prompt` field.\n";
  return md.str();
}

// One horizontal bar per (task, metric) over the whole task, with a
// +-1.96 stderr whisker. Metrics outside [0, 1] are scaled to their maximum.
std::string Chart(const std::vector<TaskData>& tasks) {
  struct Bar {
    std::string label;
    double value, stderr_value;
  };
  std::vector<Bar> bars;
  double max_value = 1.0;
  for (const auto& t : tasks) {
    for (const auto& a : t.aggregates) {
      if (!a.group.empty() || std::isnan(a.value)) continue;
      bars.push_back({t.task.name + " · " + a.metric, a.value, a.stderr_value});
      max_value =
          std::max(max_value, a.value + (std::isnan(a.stderr_value) ? 0 : 1.96 * a.stderr_value));
    }
  }
  const int label_w = 260, plot_w = 420, row_h = 28, top = 10;
  const int height = top + row_h * static_cast<int>(bars.size()) + 30;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_w + plot_w + 80
      << "\" height=\"" << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  auto x_of = [&](double v) { return label_w + plot_w * std::clamp(v / max_value, 0.0, 1.0); };
  for (int tick = 0; tick <= 4; ++tick) {
    const double v = max_value * tick / 4;
    const double x = x_of(v);
    svg << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << height - 25
        << "\" stroke=\"#ddd\"/><text x=\"" << x << "\" y=\"" << height - 10
        << "\" text-anchor=\"middle\" fill=\"#555\">" << Fixed(v, 2) << "</text>\n";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    const int y = top + row_h * static_cast<int>(i);
    svg << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 17 << "\" text-anchor=\"end\">"
        << Html(b.label) << "</text>\n";
    svg << "<rect x=\"" << label_w << "\" y=\"" << y + 5 << "\" width=\"" << x_of(b.value) - label_w
        << "\" height=\"" << row_h - 10 << "\" fill=\"#4c78a8\"><title>" << Html(b.label) << ": "
        << Fixed(b.value) << "</title></rect>\n";
    if (!std::isnan(b.stderr_value)) {
      const double lo = x_of(b.value - 1.96 * b.stderr_value);
      const double hi = x_of(b.value + 1.96 * b.stderr_value);
      const int cy = y + row_h / 2;
      svg << "<path d=\"M" << lo << " " << cy << " H" << hi << " M" << lo << " " << cy - 5 << " V"
          << cy + 5 << " M" << hi << " " << cy - 5 << " V" << cy + 5
          << "\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"/>\n";
    }
    // The value goes right of the whisker, so the two never overlap.
    const double label_x =
        std::isnan(b.stderr_value) ? x_of(b.value) : x_of(b.value + 1.96 * b.stderr_value);
    svg << "<text x=\"" << label_x + 6 << "\" y=\"" << y + 17 << "\" fill=\"#222\">"
        << Fixed(b.value, 3) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

StatusOr<std::string> HtmlReport(const ResultsStore& store, const RunMetadata& run,
                                 const std::vector<TaskData>& tasks,
                                 const std::vector<StoredFigure>& figures) {
  std::ostringstream h;
  h << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Compass report: "
    << Html(run.backend)
    << "</title>\n<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;"
       "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
       "#ccc;padding:4px 8px}"
       "td.n{text-align:right;font-variant-numeric:tabular-nums}pre{white-space:pre-wrap;"
       "background:#f6f6f6;"
       "padding:6px;margin:0}details{margin:.3em "
       "0}.ok{color:#2a7}.bad{color:#c33}</style></head><body>\n";
  h << "<h1>Compass report</h1>\n<p>Backend <b>" << Html(run.backend) << "</b> "
    << Html(run.backend_version) << " &middot; model <code>" << Html(run.model_path) << "</code> ("
    << Html(run.dtype) << ") &middot; " << Html(run.started_at) << " &middot; "
    << Fixed(run.seconds, 1) << " s &middot; compass " << Html(run.compass_version) << " ("
    << Html(run.git_hash) << ")</p>\n";
  for (const auto& note : Notes(run)) h << "<p class=bad>" << Html(note) << "</p>\n";
  h << "<h2>Scores</h2>\n<p>Bars: value per task and metric; whiskers: &plusmn;1.96 standard "
       "errors.</p>\n"
    << Chart(tasks);
  h << "<table><tr><th>task</th><th>group</th><th>metric</th><th>value</th><th>stderr</th><th>n</"
       "th></tr>\n";
  for (const auto& t : tasks) {
    for (const auto& a : t.aggregates) {
      h << "<tr><td>" << Html(t.task.name) << "</td><td>"
        << Html(a.group.empty() ? "(all)" : a.group) << "</td><td>" << Html(a.metric)
        << (a.higher_is_better ? " &uarr;" : " &darr;") << "</td><td class=n>" << Fixed(a.value)
        << "</td><td class=n>" << Fixed(a.stderr_value) << " <small>" << Html(a.stderr_method)
        << "</small></td><td class=n>" << a.count << "</td></tr>\n";
    }
  }
  h << "</table>\n";
  if (!figures.empty()) {
    h << "<h2>Backend figures</h2>\n<table><tr><th>figure</th><th>scope</th><th>value</th></tr>\n";
    for (const auto& f : figures) {
      h << "<tr><td>" << Html(f.name) << "</td><td>" << Html(f.scope) << "</td><td class=n>"
        << Html(FigureText(f)) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  constexpr size_t kSamplesShown = 50;
  h << "<h2>Samples</h2>\n<p>The first " << kSamplesShown
    << " items of each task; all of them are in <code>samples.jsonl</code>.</p>\n";
  for (const auto& t : tasks) {
    COMPASS_ASSIGN_OR_RETURN(auto samples, store.Samples(t.task.name));
    h << "<h3>" << Html(t.task.name) << "</h3>\n";
    for (size_t i = 0; i < samples.size() && i < kSamplesShown; ++i) {
      const json s = json::parse(samples[i].sample_json, nullptr, false);
      const bool has_correct = s.contains("correct") && s["correct"].is_boolean();
      h << "<details><summary>" << Html(samples[i].item_id);
      if (has_correct) {
        h << (s["correct"].get<bool>() ? " <span class=ok>&#10003;</span>"
                                       : " <span class=bad>&#10007;</span>");
      }
      if (s.contains("prediction")) h << " prediction " << Html(Dump(s["prediction"]));
      if (s.contains("reference")) h << " reference " << Html(Dump(s["reference"]));
      h << "</summary><pre>" << Html(s.value("prompt", "")) << "</pre>";
      if (s.contains("error")) {
        h << "<p class=bad>not scored: " << Html(s["error"].get<std::string>()) << "</p>";
      }
      if (s.contains("choices") && s.contains("logprobs")) {
        // Partial evaluation: each choice follows its own context, shown
        // after the prompt they share.
        const bool partial = s.contains("contexts") && s["contexts"].size() == s["choices"].size();
        const std::string shared = s.value("prompt", "");
        h << "<table><tr>" << (partial ? "<th>context</th>" : "")
          << "<th>choice</th><th>log-prob</th></tr>";
        for (size_t c = 0; c < s["choices"].size(); ++c) {
          h << "<tr>";
          if (partial) {
            std::string context = s["contexts"][c].get<std::string>();
            if (context.compare(0, shared.size(), shared) == 0) context.erase(0, shared.size());
            h << "<td>" << Html(Dump(context)) << "</td>";
          }
          h << "<td>" << Html(Dump(s["choices"][c])) << "</td><td class=n>"
            << Fixed(s["logprobs"][c].get<double>()) << "</td></tr>";
        }
        h << "</table>";
      }
      if (s.contains("generation")) {
        h << "<p>generation:</p><pre>" << Html(s["generation"].get<std::string>()) << "</pre>";
      }
      h << "</details>\n";
    }
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

StatusOr<ReportFiles> WriteReports(const ResultsStore& store, const std::string& dir) {
  COMPASS_ASSIGN_OR_RETURN(RunMetadata run, store.Run());
  COMPASS_ASSIGN_OR_RETURN(auto tasks, LoadTasks(store));
  COMPASS_ASSIGN_OR_RETURN(auto figures, store.Figures());
  const fs::path d(dir);
  ReportFiles files{(d / "results.json").string(), (d / "report.md").string(),
                    (d / "report.html").string(), (d / "samples.jsonl").string()};
  COMPASS_ASSIGN_OR_RETURN(std::string html, HtmlReport(store, run, tasks, figures));
  std::string lines;
  for (const auto& t : tasks) {
    COMPASS_ASSIGN_OR_RETURN(auto samples, store.Samples(t.task.name));
    for (const auto& s : samples) lines += s.sample_json + "\n";
  }
  // All four or none: a failure (a full disk) leaves the previous reports
  // whole and consistent with one another.
  COMPASS_RETURN_IF_ERROR(
      WriteFilesAtomically({{files.results_json, Dump(ResultsJson(run, tasks, figures), 2) + "\n"},
                            {files.report_md, Markdown(run, tasks, figures)},
                            {files.report_html, std::move(html)},
                            {files.samples_jsonl, std::move(lines)}}));
  return files;
}

StatusOr<std::string> SummaryTable(const ResultsStore& store) {
  COMPASS_ASSIGN_OR_RETURN(auto tasks, LoadTasks(store));
  COMPASS_ASSIGN_OR_RETURN(auto figures, store.Figures());
  size_t task_w = 4, group_w = 5, metric_w = 6;
  for (const auto& t : tasks) {
    task_w = std::max(task_w, t.task.name.size());
    for (const auto& a : t.aggregates) {
      group_w = std::max(group_w, a.group.size());
      metric_w = std::max(metric_w, a.metric.size());
    }
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %10s  %10s  %8s\n", static_cast<int>(task_w),
                "TASK", static_cast<int>(group_w), "GROUP", static_cast<int>(metric_w), "METRIC",
                "VALUE", "STDERR", "N");
  out += line;
  for (const auto& t : tasks) {
    for (const auto& a : t.aggregates) {
      std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %10s  %10s  %8llu\n",
                    static_cast<int>(task_w), t.task.name.c_str(), static_cast<int>(group_w),
                    a.group.empty() ? "(all)" : a.group.c_str(), static_cast<int>(metric_w),
                    a.metric.c_str(), Fixed(a.value).c_str(), Fixed(a.stderr_value).c_str(),
                    static_cast<unsigned long long>(a.count));
      out += line;
    }
  }
  if (!figures.empty()) {
    out += "\nBackend figures:\n";
    for (const auto& f : figures) {
      std::snprintf(line, sizeof line, "  %-28s %-8s %s\n", f.name.c_str(), f.scope.c_str(),
                    FigureText(f).c_str());
      out += line;
    }
  }
  return out;
}

}  // namespace compass
