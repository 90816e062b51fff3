// Formatting shared by the reports of a run (report.h) and of a comparison
// (comparison.h): numbers, figures, HTML and Markdown escaping, JSON dumps
// that tolerate model output. (Files are written with util/atomic_file.h.)
#ifndef COMPASS_REPORT_REPORT_FORMAT_H_
#define COMPASS_REPORT_REPORT_FORMAT_H_

#include <nlohmann/json.hpp>

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

}  // namespace compass::report_format

#endif  // COMPASS_REPORT_REPORT_FORMAT_H_
