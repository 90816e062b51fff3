// The comparison's files and terminal table (comparison.h).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "report/comparison.h"
#include "report/report_format.h"
#include "util/atomic_file.h"

namespace compass {
namespace {

using json = nlohmann::json;
using namespace report_format;  // NOLINT
namespace fs = std::filesystem;

const char* const kColors[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"};

std::string Scientific(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

std::string PValue(double p) {
  if (p < 1e-4) return Scientific(p);
  return Fixed(p, 4);
}

std::string Vector(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Fixed(v[i], 4);
  return out + "]";
}

// McNemar's discordant counts, or the bootstrap interval.
std::string Evidence(const PairedDifference& d) {
  return d.test.rfind("McNemar", 0) == 0
             ? std::to_string(d.only_reference) + " / " + std::to_string(d.only_other)
             : "[" + Fixed(d.low) + ", " + Fixed(d.high) + "]";
}

std::string Generations(const Agreement& g) {
  return g.generations
             ? std::to_string(g.identical_generations) + "/" + std::to_string(g.generations)
             : "—";
}

std::string Token(int64_t id) {
  return id < 0 ? "(end)" : std::to_string(id);
}

// ------------------------------------------------------------------ JSON

json ToJson(const Comparison& c) {
  json j;
  j["runs"] = json::array();
  for (const ComparedRun& r : c.runs) {
    j["runs"].push_back({{"label", r.label},
                         {"dir", r.dir},
                         {"error", r.error.empty() ? json() : json(r.error)},
                         {"repeats", r.repeats.empty() ? json() : json(r.repeats)}});
  }
  j["identical_requests"] = c.identical_requests;
  if (!c.request_note.empty()) j["request_note"] = c.request_note;
  j["scores"] = json::array();
  for (const ScoreRow& row : c.scores) {
    json cells = json::object();
    for (size_t i = 0; i < row.cells.size(); ++i) {
      const ScoreCell& cell = row.cells[i];
      if (!cell.present) continue;
      cells[c.runs[i].label] = {{"value", NumberOrNull(cell.value)},
                                {"stderr", NumberOrNull(cell.stderr_value)},
                                {"n", cell.count}};
    }
    j["scores"].push_back({{"task", row.task}, {"metric", row.metric}, {"backends", cells}});
  }
  j["differences"] = json::array();
  for (const PairedDifference& d : c.differences) {
    j["differences"].push_back({{"task", d.task},
                                {"metric", d.metric},
                                {"reference", d.reference},
                                {"other", d.other},
                                {"items", d.items},
                                {"difference", NumberOrNull(d.difference)},
                                {"test", d.test},
                                {"p_value", NumberOrNull(d.p_value)},
                                {"interval", {d.low, d.high}},
                                {"only_reference", d.only_reference},
                                {"only_other", d.only_other},
                                {"significant", d.significant}});
  }
  j["agreement"] = json::array();
  for (const Agreement& g : c.agreements) {
    json flips = json::array();
    for (const Flip& f : g.flips) {
      flips.push_back({{"id", f.item_id},
                       {"reference_prediction", f.reference_prediction},
                       {"other_prediction", f.other_prediction},
                       {"gold", f.gold},
                       {"reference_logprobs", f.reference_logprobs},
                       {"other_logprobs", f.other_logprobs}});
    }
    json divergences = json::array();
    for (const Divergence& d : g.divergences) {
      divergences.push_back({{"id", d.item_id},
                             {"position", d.position},
                             {"reference_token", d.reference_token},
                             {"other_token", d.other_token},
                             {"reference_logprob", NumberOrNull(d.reference_logprob)},
                             {"other_logprob", NumberOrNull(d.other_logprob)}});
    }
    j["agreement"].push_back({{"task", g.task},
                              {"reference", g.reference},
                              {"other", g.other},
                              {"items", g.items},
                              {"same_prediction", g.same_prediction},
                              {"share", g.share()},
                              {"choices_compared", g.choices},
                              {"max_abs_delta_logprob", NumberOrNull(g.max_abs_delta)},
                              {"mean_abs_delta_logprob", NumberOrNull(g.mean_abs_delta)},
                              {"flips", flips},
                              {"generations", g.generations},
                              {"identical_generations", g.identical_generations},
                              {"divergences", divergences}});
  }
  j["environment"] = json::array();
  for (const RunFacts& f : c.facts) {
    json figures = json::array();
    for (const StoredFigure& fig : f.figures) {
      figures.push_back(
          {{"name", fig.name}, {"scope", fig.scope}, {"value", fig.value}, {"unit", fig.unit}});
    }
    j["environment"].push_back(
        {{"label", f.label},
         {"backend", f.backend},
         {"backend_version", f.backend_version},
         {"compass_version", f.compass_version},
         {"dtype", f.dtype},
         {"devices", json::parse(f.devices.empty() ? "null" : f.devices, nullptr, false)},
         {"options", json::parse(f.options.empty() ? "null" : f.options, nullptr, false)},
         {"seconds", f.seconds},
         {"requests", f.requests},
         {"figures", figures}});
  }
  return j;
}

// ------------------------------------------------------------------ Markdown

std::string Markdown(const Comparison& c) {
  std::ostringstream md;
  md << "# Compass comparison\n\n";
  md << "Backends: ";
  for (size_t i = 0; i < c.runs.size(); ++i) {
    md << (i ? ", " : "") << "`" << c.runs[i].label << "`" << (i == 0 ? " (reference)" : "");
  }
  md << "\n\nRequests: "
     << (c.identical_requests ? "identical on every backend (the same token ids)"
                              : "NOT identical: " + c.request_note)
     << "\n\n";
  for (const ComparedRun& r : c.runs) {
    if (!r.error.empty()) md << "- **" << r.label << " did not run**: " << MdCell(r.error) << "\n";
  }
  md << "\n## Scores\n\n| task | metric |";
  for (const ComparedRun& r : c.runs) md << " " << MdCell(r.label) << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < c.runs.size(); ++i) md << "---|";
  md << "\n";
  for (const ScoreRow& row : c.scores) {
    md << "| " << MdCell(row.task) << " | " << MdCell(row.metric) << " |";
    for (const ScoreCell& cell : row.cells) {
      md << " " << (cell.present ? Fixed(cell.value) + " ± " + Fixed(cell.stderr_value) : "—")
         << " |";
    }
    md << "\n";
  }
  md << "\n## Paired tests\n\n| task | metric | backends | difference | test | p | "
        "discordant / interval |\n|---|---|---|---|---|---|---|\n";
  for (const PairedDifference& d : c.differences) {
    md << "| " << MdCell(d.task) << " | " << MdCell(d.metric) << " | " << MdCell(d.other) << " − "
       << MdCell(d.reference) << " | " << Fixed(d.difference) << " | " << d.test << " | "
       << PValue(d.p_value) << (d.significant ? " **significant**" : "") << " | " << Evidence(d)
       << " |\n";
  }
  md << "\n## Agreement\n\n| task | backends | same prediction | max \\|Δ log-prob\\| | mean "
        "\\|Δ log-prob\\| | identical generations |\n|---|---|---|---|---|---|\n";
  for (const Agreement& g : c.agreements) {
    md << "| " << MdCell(g.task) << " | " << MdCell(g.other) << " vs " << MdCell(g.reference)
       << " | " << g.same_prediction << "/" << g.items << " (" << Fixed(100 * g.share(), 1)
       << " %) | " << Scientific(g.max_abs_delta) << " | " << Scientific(g.mean_abs_delta) << " | "
       << Generations(g) << " |\n";
  }
  for (const Agreement& g : c.agreements) {
    if (g.flips.empty() && g.divergences.empty()) continue;
    md << "\n### " << MdCell(g.task) << ": " << MdCell(g.other) << " vs " << MdCell(g.reference)
       << "\n\n";
    if (!g.flips.empty()) {
      md << "Predictions that flip:\n\n| item | gold | " << MdCell(g.reference) << " | "
         << MdCell(g.other) << " | log-probs " << MdCell(g.reference) << " | log-probs "
         << MdCell(g.other) << " |\n|---|---|---|---|---|---|\n";
      for (const Flip& f : g.flips) {
        md << "| " << MdCell(f.item_id) << " | " << MdCell(f.gold) << " | "
           << MdCell(f.reference_prediction) << " | " << MdCell(f.other_prediction) << " | "
           << Vector(f.reference_logprobs) << " | " << Vector(f.other_logprobs) << " |\n";
      }
    }
    if (!g.divergences.empty()) {
      md << "\nGenerations that diverge (first differing token):\n\n| item | position | "
         << MdCell(g.reference) << " token (log-prob) | " << MdCell(g.other)
         << " token (log-prob) |\n|---|---|---|---|\n";
      for (const Divergence& d : g.divergences) {
        md << "| " << MdCell(d.item_id) << " | " << d.position << " | " << Token(d.reference_token)
           << " (" << Fixed(d.reference_logprob) << ") | " << Token(d.other_token) << " ("
           << Fixed(d.other_logprob) << ") |\n";
      }
    }
  }
  md << "\n## Performance and environment\n\n";
  for (const RunFacts& f : c.facts) {
    md << "### " << MdCell(f.label) << "\n\n- backend " << f.backend << " " << f.backend_version
       << ", Compass " << f.compass_version << "\n- dtype " << f.dtype << ", devices "
       << MdCell(f.devices) << "\n- options " << MdCell(f.options) << "\n- run time "
       << Fixed(f.seconds, 2) << " s, " << f.requests << " responses stored\n\n";
    if (!f.figures.empty()) {
      md << "| figure | scope | value |\n|---|---|---|\n";
      for (const StoredFigure& fig : f.figures) {
        md << "| " << MdCell(fig.name) << " | " << MdCell(fig.scope) << " | " << FigureText(fig)
           << " |\n";
      }
      md << "\n";
    }
  }
  return md.str();
}

// ------------------------------------------------------------------ HTML

struct Bar {
  std::string label;
  double value = 0, whisker = NAN;  // whisker: half-width
  int color = 0;
  std::string text;  // printed right of the bar
};

// A horizontal bar chart; `log` plots log10(value) from `min_log`.
std::string BarChart(const std::string& id, const std::vector<Bar>& bars, double max_value,
                     bool log = false, double min_log = -9) {
  const int label_w = 300, plot_w = 400, row_h = 24, top = 10;
  const int height = top + row_h * static_cast<int>(std::max<size_t>(bars.size(), 1)) + 30;
  auto scaled = [&](double v) {
    if (!log) return max_value > 0 ? std::clamp(v / max_value, 0.0, 1.0) : 0.0;
    const double l = v > 0 ? std::log10(v) : min_log;
    return std::clamp((l - min_log) / (std::log10(max_value) - min_log), 0.0, 1.0);
  };
  auto x_of = [&](double v) { return label_w + plot_w * scaled(v); };
  std::ostringstream svg;
  svg << "<svg class=\"chart\" id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << label_w + plot_w + 110 << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  for (int tick = 0; tick <= 4; ++tick) {
    const double frac = tick / 4.0;
    const double x = label_w + plot_w * frac;
    const double v =
        log ? std::pow(10, min_log + frac * (std::log10(max_value) - min_log)) : max_value * frac;
    svg << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << height - 25
        << "\" stroke=\"#ddd\"/><text x=\"" << x << "\" y=\"" << height - 10
        << "\" text-anchor=\"middle\" fill=\"#555\">" << (log ? Scientific(v) : Fixed(v, 2))
        << "</text>\n";
  }
  if (bars.empty()) {
    svg << "<text x=\"" << label_w << "\" y=\"" << top + 16 << "\" fill=\"#555\">nothing to "
        << "compare</text>\n";
  }
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = top + row_h * static_cast<int>(i);
    const double x = x_of(b.value);
    svg << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 16 << "\" text-anchor=\"end\">"
        << Html(b.label) << "</text>\n<rect x=\"" << label_w << "\" y=\"" << y + 4 << "\" width=\""
        << std::max(1.0, x - label_w) << "\" height=\"" << row_h - 8 << "\" fill=\""
        << kColors[b.color % 6] << "\"><title>" << Html(b.label) << ": " << Html(b.text)
        << "</title></rect>\n";
    double right = x;
    if (!std::isnan(b.whisker) && !log) {
      const double lo = x_of(b.value - b.whisker), hi = x_of(b.value + b.whisker);
      const int cy = y + row_h / 2;
      svg << "<path d=\"M" << lo << " " << cy << " H" << hi << " M" << lo << " " << cy - 4 << " V"
          << cy + 4 << " M" << hi << " " << cy - 4 << " V" << cy + 4
          << "\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"/>\n";
      right = hi;
    }
    svg << "<text x=\"" << right + 6 << "\" y=\"" << y + 16 << "\" fill=\"#222\">" << Html(b.text)
        << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string HtmlReport(const Comparison& c) {
  std::ostringstream h;
  h << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Compass comparison</title>\n"
       "<style>body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
       "text-align:left;font-size:13px}th{background:#f3f3f3}.sig{color:#b00;font-weight:bold}"
       ".bad{color:#b00}code{font-size:12px}</style></head><body>\n";
  h << "<h1>Compass comparison</h1>\n<p>Backends: ";
  for (size_t i = 0; i < c.runs.size(); ++i) {
    h << (i ? ", " : "") << "<code>" << Html(c.runs[i].label) << "</code>"
      << (i == 0 ? " (reference)" : "");
  }
  h << ". Requests: "
    << (c.identical_requests
            ? "identical on every backend (the same token ids)."
            : "<span class=\"bad\">not identical: " + Html(c.request_note) + "</span>")
    << "</p>\n";
  for (const ComparedRun& r : c.runs) {
    if (!r.error.empty()) {
      h << "<p class=\"bad\"><b>" << Html(r.label) << " did not run:</b> " << Html(r.error)
        << "</p>\n";
    }
  }
  // Scores, one bar per backend, with 95 % whiskers.
  std::vector<Bar> score_bars;
  double max_score = 1.0;
  for (const ScoreRow& row : c.scores) {
    for (size_t i = 0; i < row.cells.size(); ++i) {
      const ScoreCell& cell = row.cells[i];
      if (!cell.present) continue;
      const double w = std::isnan(cell.stderr_value) ? NAN : 1.96 * cell.stderr_value;
      score_bars.push_back({row.task + " · " + row.metric + " · " + c.runs[i].label, cell.value, w,
                            static_cast<int>(i), Fixed(cell.value, 3)});
      max_score = std::max(max_score, cell.value + (std::isnan(w) ? 0 : w));
    }
  }
  h << "<h2>Scores</h2>\n" << BarChart("chart-scores", score_bars, max_score);
  h << "<table><tr><th>task</th><th>metric</th>";
  for (const ComparedRun& r : c.runs) h << "<th>" << Html(r.label) << "</th>";
  h << "</tr>\n";
  for (const ScoreRow& row : c.scores) {
    h << "<tr><td>" << Html(row.task) << "</td><td>" << Html(row.metric) << "</td>";
    for (const ScoreCell& cell : row.cells) {
      h << "<td>" << (cell.present ? Fixed(cell.value) + " ± " + Fixed(cell.stderr_value) : "—")
        << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table>\n<h2>Paired tests</h2>\n<table><tr><th>task</th><th>metric</th><th>backends"
       "</th><th>difference</th><th>test</th><th>p</th><th>discordant / interval</th></tr>\n";
  for (const PairedDifference& d : c.differences) {
    h << "<tr><td>" << Html(d.task) << "</td><td>" << Html(d.metric) << "</td><td>" << Html(d.other)
      << " − " << Html(d.reference) << "</td><td>" << Fixed(d.difference) << "</td><td>"
      << Html(d.test) << "</td><td" << (d.significant ? " class=\"sig\"" : "") << ">"
      << PValue(d.p_value) << "</td><td>" << Evidence(d) << "</td></tr>\n";
  }
  h << "</table>\n<h2>Agreement</h2>\n";
  std::vector<Bar> share_bars, delta_bars;
  double max_delta = 1e-8;
  for (size_t k = 0; k < c.agreements.size(); ++k) {
    const Agreement& g = c.agreements[k];
    int color = 0;
    for (size_t i = 0; i < c.runs.size(); ++i) {
      if (c.runs[i].label == g.other) color = static_cast<int>(i);
    }
    const std::string label = g.task + " · " + g.other + " vs " + g.reference;
    share_bars.push_back({label, g.share(), NAN, color, Fixed(100 * g.share(), 1) + " %"});
    delta_bars.push_back({label, g.max_abs_delta, NAN, color, Scientific(g.max_abs_delta)});
    max_delta = std::max(max_delta, g.max_abs_delta);
  }
  h << "<h3>Same prediction</h3>\n" << BarChart("chart-agreement", share_bars, 1.0);
  h << "<h3>Max |Δ log-prob| over choices (log scale)</h3>\n"
    << BarChart("chart-logprob-delta", delta_bars, std::pow(10, std::ceil(std::log10(max_delta))),
                true, -10);
  h << "<table><tr><th>task</th><th>backends</th><th>same prediction</th><th>max |Δ log-prob|"
       "</th><th>mean |Δ log-prob|</th><th>identical generations</th></tr>\n";
  for (const Agreement& g : c.agreements) {
    h << "<tr><td>" << Html(g.task) << "</td><td>" << Html(g.other) << " vs " << Html(g.reference)
      << "</td><td>" << g.same_prediction << "/" << g.items << "</td><td>"
      << Scientific(g.max_abs_delta) << "</td><td>" << Scientific(g.mean_abs_delta) << "</td><td>"
      << Generations(g) << "</td></tr>\n";
  }
  h << "</table>\n";
  for (const Agreement& g : c.agreements) {
    if (g.flips.empty() && g.divergences.empty()) continue;
    h << "<h3>" << Html(g.task) << ": " << Html(g.other) << " vs " << Html(g.reference)
      << "</h3>\n";
    if (!g.flips.empty()) {
      h << "<table><tr><th>item</th><th>gold</th><th>" << Html(g.reference) << "</th><th>"
        << Html(g.other) << "</th><th>log-probs " << Html(g.reference) << "</th><th>log-probs "
        << Html(g.other) << "</th></tr>\n";
      for (const Flip& f : g.flips) {
        h << "<tr><td>" << Html(f.item_id) << "</td><td>" << Html(f.gold) << "</td><td>"
          << Html(f.reference_prediction) << "</td><td>" << Html(f.other_prediction)
          << "</td><td><code>" << Vector(f.reference_logprobs) << "</code></td><td><code>"
          << Vector(f.other_logprobs) << "</code></td></tr>\n";
      }
      h << "</table>\n";
    }
    if (!g.divergences.empty()) {
      h << "<table><tr><th>item</th><th>first differing token</th><th>" << Html(g.reference)
        << " (log-prob)</th><th>" << Html(g.other) << " (log-prob)</th></tr>\n";
      for (const Divergence& d : g.divergences) {
        h << "<tr><td>" << Html(d.item_id) << "</td><td>" << d.position << "</td><td>"
          << Token(d.reference_token) << " (" << Fixed(d.reference_logprob) << ")</td><td>"
          << Token(d.other_token) << " (" << Fixed(d.other_logprob) << ")</td></tr>\n";
      }
      h << "</table>\n";
    }
  }
  // Performance.
  std::vector<Bar> time_bars;
  double max_seconds = 1e-3;
  for (size_t i = 0; i < c.facts.size(); ++i) {
    const RunFacts& f = c.facts[i];
    int color = 0;
    for (size_t k = 0; k < c.runs.size(); ++k) {
      if (c.runs[k].label == f.label) color = static_cast<int>(k);
    }
    time_bars.push_back({f.label, f.seconds, NAN, color, Fixed(f.seconds, 2) + " s"});
    max_seconds = std::max(max_seconds, f.seconds);
  }
  h << "<h2>Performance and environment</h2>\n<h3>Run time</h3>\n"
    << BarChart("chart-time", time_bars, max_seconds);
  for (const RunFacts& f : c.facts) {
    h << "<h3>" << Html(f.label) << "</h3>\n<p>backend " << Html(f.backend) << " "
      << Html(f.backend_version) << ", Compass " << Html(f.compass_version) << "; dtype "
      << Html(f.dtype) << "; devices <code>" << Html(f.devices) << "</code>; options <code>"
      << Html(f.options) << "</code>; run time " << Fixed(f.seconds, 2) << " s; " << f.requests
      << " responses stored</p>\n";
    if (f.figures.empty()) continue;
    h << "<table><tr><th>figure</th><th>scope</th><th>value</th></tr>\n";
    for (const StoredFigure& fig : f.figures) {
      h << "<tr><td>" << Html(fig.name) << "</td><td>" << Html(fig.scope) << "</td><td>"
        << Html(FigureText(fig)) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace

StatusOr<ComparisonFiles> WriteComparison(const Comparison& comparison, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  ComparisonFiles files;
  files.json = (fs::path(dir) / "compare.json").string();
  files.markdown = (fs::path(dir) / "compare.md").string();
  files.html = (fs::path(dir) / "compare.html").string();
  // All three or none: a failure leaves the previous comparison whole.
  COMPASS_RETURN_IF_ERROR(WriteFilesAtomically({{files.json, Dump(ToJson(comparison), 2) + "\n"},
                                                {files.markdown, Markdown(comparison)},
                                                {files.html, HtmlReport(comparison)}}));
  return files;
}

std::string ComparisonTable(const Comparison& c) {
  std::ostringstream t;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-22s", "TASK", "METRIC");
  t << line;
  for (const ComparedRun& r : c.runs) {
    std::snprintf(line, sizeof line, " %18s", r.label.c_str());
    t << line;
  }
  t << "\n";
  for (const ScoreRow& row : c.scores) {
    std::snprintf(line, sizeof line, "%-24s %-22s", row.task.c_str(), row.metric.c_str());
    t << line;
    for (const ScoreCell& cell : row.cells) {
      const std::string v =
          cell.present ? Fixed(cell.value) + "±" + Fixed(cell.stderr_value, 3) : std::string("-");
      std::snprintf(line, sizeof line, " %18s", v.c_str());
      t << line;
    }
    t << "\n";
  }
  t << "\nAgreement with the reference:\n";
  for (const Agreement& g : c.agreements) {
    std::snprintf(line, sizeof line,
                  "  %-24s %-28s same prediction %llu/%llu, max |delta log-prob| %s, %zu flip(s)",
                  g.task.c_str(), (g.other + " vs " + g.reference).c_str(),
                  static_cast<unsigned long long>(g.same_prediction),
                  static_cast<unsigned long long>(g.items), Scientific(g.max_abs_delta).c_str(),
                  g.flips.size());
    t << line;
    if (g.generations) {
      t << ", generations identical " << g.identical_generations << "/" << g.generations;
    }
    t << "\n";
  }
  bool any = false;
  for (const PairedDifference& d : c.differences) {
    if (!d.significant) continue;
    if (!any) t << "\nSignificant differences (p < 0.05, paired):\n";
    any = true;
    t << "  " << d.task << " " << d.metric << ": " << d.other << " - " << d.reference << " = "
      << Fixed(d.difference) << " (" << d.test << ", p = " << PValue(d.p_value) << ")\n";
  }
  if (!any) t << "\nNo significant difference (paired tests, p < 0.05).\n";
  if (!c.identical_requests)
    t << "\nWARNING: the request streams differ: " << c.request_note << "\n";
  for (const ComparedRun& r : c.runs) {
    if (!r.error.empty()) t << "\n" << r.label << " did not run: " << r.error << "\n";
  }
  return t.str();
}

}  // namespace compass
