// Formatting shared by the reports of a run (report.h) and of a comparison
// (comparison.h): numbers, figures, HTML and Markdown escaping, JSON dumps
// that tolerate model output, and atomic file replacement.
#ifndef COMPASS_REPORT_REPORT_FORMAT_H_
#define COMPASS_REPORT_REPORT_FORMAT_H_

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "results/results_store.h"
#include "util/status.h"

namespace compass::report_format {

// null for NaN.
nlohmann::json NumberOrNull(double v);
// Model output can hold invalid UTF-8: replaced rather than failing.
std::string Dump(const nlohmann::json& j, int indent = -1);
// "n/a" for NaN.
std::string Fixed(double v, int digits = 4);
// A figure with its unit ("1.2 GiB", "3.000 s", "12.5 %", "80.0 /s").
std::string FigureText(const StoredFigure& f);
std::string Html(const std::string& s);
// Escapes the table separator.
std::string MdCell(std::string s);
// Writes `content` to path.tmp, then renames it over `path`.
Status WriteAtomically(const std::filesystem::path& path, const std::string& content);

}  // namespace compass::report_format

#endif  // COMPASS_REPORT_REPORT_FORMAT_H_
