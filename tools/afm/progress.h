// A one-line progress bar on stderr for long work (model creation, training, conversion).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace afm::cli {

class progress_bar {
 public:
  explicit progress_bar(std::string label) : label_(std::move(label)), tty_(isatty(2) != 0) {}

  // `suffix` (may be null) follows the bar: a loss, a rate.
  void update(size_t done, size_t total, const char* suffix = nullptr) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    const int pct = static_cast<int>(frac * 100.0);
    if (!tty_ && pct < last_pct_ + 10 && done != total) return;  // logs get a line per 10%
    last_pct_ = pct;
    const int width = 30, filled = static_cast<int>(frac * width);
    const double eta = frac > 0 ? elapsed / frac - elapsed : 0.0;
    std::fprintf(stderr, "%s%s [%.*s%*s] %3d%% %s/%s  %.1fs elapsed, ETA %.1fs%s%s%s",
                 tty_ ? "\r" : "", label_.c_str(), filled, "##############################",
                 width - filled, "", pct, count_text(done, total).c_str(),
                 count_text(total, total).c_str(), elapsed, eta, suffix ? "  " : "",
                 suffix ? suffix : "", tty_ && done != total ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  // Counts of weights run to billions: past 10^5, show two decimals of k, M or G, all in
  // the unit of `total` so done and total line up.
  static std::string count_text(size_t n, size_t total) {
    if (total < 100000) return std::to_string(n);
    const double unit = total >= 1000000000 ? 1e9 : total >= 1000000 ? 1e6 : 1e3;
    const char* suffix = unit == 1e9 ? "G" : unit == 1e6 ? "M" : "k";
    char text[32];
    std::snprintf(text, sizeof text, "%.2f%s", static_cast<double>(n) / unit, suffix);
    return text;
  }

  std::string label_;
  bool tty_;
  int last_pct_ = -100;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace afm::cli
