// Reports built from a run's results store alone: results.json (for
// machines), report.md and a self-contained report.html (for people: inline
// SVG charts, no network needed), samples.jsonl (one line per scored item),
// and the summary table printed on the terminal.
#ifndef COMPASS_REPORT_REPORT_H_
#define COMPASS_REPORT_REPORT_H_

#include <string>

#include "results/results_store.h"
#include "util/status.h"

namespace compass {

struct ReportFiles {
  std::string results_json, report_md, report_html, samples_jsonl;
};

// Writes the four files into `dir`, replaced as one (util/atomic_file.h): a
// failure (a full disk) is an IoError naming the file, and leaves the
// previous reports whole.
StatusOr<ReportFiles> WriteReports(const ResultsStore& store, const std::string& dir);

// The aligned table of every metric (task, group, value, stderr, n) and the
// backend's figures, for the terminal.
StatusOr<std::string> SummaryTable(const ResultsStore& store);

}  // namespace compass

#endif  // COMPASS_REPORT_REPORT_H_
