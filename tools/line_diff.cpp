#include "line_diff.h"

#include <algorithm>
#include <vector>

namespace mandate::cli {
namespace {

std::vector<std::string> splitLines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(s.substr(start) + "\n\\ No newline at end of file");
      break;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

enum class Op { Keep, Del, Add };

// Longest common subsequence on the differing middle; above the cap the middle is shown
// as one replaced block, which is still a correct (if larger) diff.
std::vector<std::pair<Op, std::size_t>> script(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  std::vector<std::pair<Op, std::size_t>> ops;
  for (std::size_t i = 0; i < pre; ++i) ops.emplace_back(Op::Keep, i);
  std::size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  constexpr std::size_t kCap = 4000;
  if (n > kCap || m > kCap) {
    for (std::size_t i = 0; i < n; ++i) ops.emplace_back(Op::Del, pre + i);
    for (std::size_t j = 0; j < m; ++j) ops.emplace_back(Op::Add, pre + j);
  } else {
    std::vector<std::vector<std::uint32_t>> L(n + 1, std::vector<std::uint32_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
      for (std::size_t j = m; j-- > 0;)
        L[i][j] = a[pre + i] == b[pre + j] ? L[i + 1][j + 1] + 1 : std::max(L[i + 1][j], L[i][j + 1]);
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        ops.emplace_back(Op::Keep, pre + i);
        ++i;
        ++j;
      } else if (i < n && (j == m || L[i + 1][j] >= L[i][j + 1])) {
        ops.emplace_back(Op::Del, pre + i++);  // on a tie, removed lines come first, as in diff(1)
      } else {
        ops.emplace_back(Op::Add, pre + j++);
      }
    }
  }
  for (std::size_t k = 0; k < suf; ++k) ops.emplace_back(Op::Keep, a.size() - suf + k);
  return ops;
}

}  // namespace

std::string unifiedDiff(const std::string& path, const std::string& before, const std::string& after) {
  if (before == after) return {};
  auto a = splitLines(before), b = splitLines(after);
  auto ops = script(a, b);
  // Positions in a and b for each op.
  std::vector<std::size_t> ai(ops.size()), bi(ops.size());
  std::size_t x = 0, y = 0;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    ai[k] = x;
    bi[k] = y;
    if (ops[k].first != Op::Add) ++x;
    if (ops[k].first != Op::Del) ++y;
  }
  std::string out = "--- " + path + "\n+++ " + path + " (formatted)\n";
  constexpr std::size_t kContext = 3;
  std::size_t k = 0;
  while (k < ops.size()) {
    if (ops[k].first == Op::Keep) {
      ++k;
      continue;
    }
    std::size_t start = k >= kContext ? k - kContext : 0;
    std::size_t end = k;
    // Extend the hunk while changes are within 2*context of each other.
    std::size_t lastChange = k;
    for (std::size_t t = k; t < ops.size(); ++t) {
      if (ops[t].first != Op::Keep) lastChange = t;
      if (t - lastChange > 2 * kContext) break;
      end = t;
    }
    end = std::min(ops.size() - 1, lastChange + kContext);
    std::size_t delCount = 0, addCount = 0;
    for (std::size_t t = start; t <= end; ++t) {
      if (ops[t].first != Op::Add) ++delCount;
      if (ops[t].first != Op::Del) ++addCount;
    }
    out += "@@ -" + std::to_string(ai[start] + (delCount ? 1 : 0)) + "," + std::to_string(delCount) + " +" +
           std::to_string(bi[start] + (addCount ? 1 : 0)) + "," + std::to_string(addCount) + " @@\n";
    for (std::size_t t = start; t <= end; ++t) {
      switch (ops[t].first) {
        case Op::Keep: out += " " + a[ops[t].second] + "\n"; break;
        case Op::Del: out += "-" + a[ops[t].second] + "\n"; break;
        case Op::Add: out += "+" + b[ops[t].second] + "\n"; break;
      }
    }
    k = end + 1;
  }
  return out;
}

}  // namespace mandate::cli
