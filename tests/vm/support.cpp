#include "support.h"

#include <fstream>
#include <sstream>

#include "compile/compiler.h"
#include "diag/render.h"
#include "value/literals.h"

namespace vmtest {

using namespace mandate;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

bool MemoryProvider::resolveImport(const std::string& fromKey, const std::string& importPath, LoadedSource& out,
                                   std::string& error) {
  fs::path key = (fs::path(fromKey).parent_path() / importPath).lexically_normal();
  auto it = files.find(key.generic_string());
  if (it == files.end()) {
    error = "no such file";
    return false;
  }
  out.key = key.generic_string();
  out.display = key.generic_string();
  out.text = it->second;
  return true;
}

Compiled compile(const std::string& text, const std::string& display, const std::map<std::string, std::string>& imports,
                 bool lint) {
  Compiled c;
  MemoryProvider provider;
  provider.files = imports;
  Diagnostics diags;
  CheckOptions opts;
  opts.lint = lint;
  std::vector<LoadedSource> roots{LoadedSource{display, display, text}};
  c.program = checkProgram(std::move(roots), provider, diags, opts);
  if (diags.errorCount() == 0) c.bundle = compileProgram(*c.program, diags);
  for (const auto& d : diags.all()) {
    if (d.severity != Severity::Error) continue;
    c.errors += renderText(c.program->sources, d);
    c.errorCodes.emplace_back(codeInfo(d.code).id);
  }
  if (!c.errors.empty()) c.bundle.reset();
  return c;
}

std::unique_ptr<bundle::Bundle> roundTrip(bundle::Bundle& b, std::string* bytes, std::string* error) {
  std::string data = bundle::serialize(b);
  std::string why;
  auto loaded = bundle::load(data, {}, why);
  if (bytes != nullptr) *bytes = data;
  if (error != nullptr) *error = why;
  return loaded;
}

Run evaluate(const bundle::Bundle& b, const nlohmann::json& input, bool requireAll, vm::Trace* trace) {
  Run r;
  vm::FrameOptions fo;
  fo.requireAll = requireAll;
  vm::fillFrame(b.schema, input, r.frame, r.frameErrors, fo);
  vm::evaluate(b, r.frame, r.d, trace);
  return r;
}

std::string toString(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  unsigned __int128 u = neg ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string s;
  while (u > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return (neg ? "-" : "") + s;
}

namespace {

std::string cellName(const Schema& s, std::size_t a, std::size_t p) {
  return s.actions[a] + (s.actionHasProducts[a] ? "/" + s.enums[s.productsEnum].values[p] : "");
}

std::size_t cellCount(const Schema& s, std::size_t a) { return s.actionHasProducts[a] ? s.productCount() : 1; }

std::string limitValue(const Schema& s, std::size_t l, __int128 v) {
  switch (s.limits[l].type.kind) {
    case TypeKind::Decimal: return lit::toString(lit::Decimal{v});
    case TypeKind::Duration: return toString(v) + "ms";
    default: return toString(v);
  }
}

const char* errorName(vm::EvalError e) {
  switch (e) {
    case vm::EvalError::None: return "none";
    case vm::EvalError::Absent: return "absent";
    case vm::EvalError::NoNow: return "no-now";
    case vm::EvalError::Overflow: return "overflow";
    case vm::EvalError::DivideByZero: return "div0";
  }
  return "?";
}

}  // namespace

std::vector<std::string> ruleIds(const bundle::Bundle& b) {
  std::vector<std::string> ids;
  for (const auto& r : b.rules) ids.push_back(r.id);
  return ids;
}

std::string summary(const bundle::Bundle& b, const vm::Decision& d) {
  const Schema& s = b.schema;
  std::string out;
  for (std::size_t a = 0; a < s.actions.size(); ++a) {
    for (std::size_t p = 0; p < cellCount(s, a); ++p) {
      if (!out.empty()) out += " ";
      out += cellName(s, a, p) + ":";
      if (d.allowed(a, p)) {
        out += "permit";
      } else if ((d.denied[a] >> p) & 1) {
        out += "deny(" + b.rules[d.denyRule[a * 64 + p]].id + ")";
      } else {
        out += "-";
      }
      std::vector<std::string> notes;
      for (std::size_t l = 0; l < s.limits.size(); ++l) {
        std::size_t idx = l * d.actions * 64 + a * 64 + p;
        if (d.limitRule[idx] >= 0) {
          __int128 v = s.limits[l].type.kind == TypeKind::Decimal ? bundle::decimalOf(d.limit[idx]) : d.limit[idx].a;
          notes.push_back(s.limits[l].name + "=" + limitValue(s, l, v));
        }
      }
      if (d.aal[a * 64 + p] > 0) notes.push_back("aal>=" + std::to_string(d.aal[a * 64 + p]));
      if (d.authAgeMs[a * 64 + p] >= 0) notes.push_back("auth_age<=" + std::to_string(d.authAgeMs[a * 64 + p]) + "ms");
      if (!notes.empty()) {
        out += "{";
        for (std::size_t i = 0; i < notes.size(); ++i) out += (i ? "," : "") + notes[i];
        out += "}";
      }
    }
  }
  if (d.ttlCapMs >= 0) out += " ttl=" + std::to_string(d.ttlCapMs) + "ms";
  if (d.errorCount > 0) {
    out += " errors=[";
    for (std::uint32_t i = 0; i < d.errorCount; ++i) {
      const auto& e = d.errors[i];
      out += (i ? ", " : "") + b.rules[e.rule].id + ":" + errorName(e.error);
      if (e.error == vm::EvalError::Absent) out += " " + s.attrs[e.slot].section + "." + s.attrs[e.slot].name;
    }
    out += "]";
  }
  return out;
}

DecisionView view(const bundle::Bundle& b, const vm::Decision& d) {
  const Schema& s = b.schema;
  DecisionView v;
  for (std::size_t a = 0; a < s.actions.size(); ++a) {
    for (std::size_t p = 0; p < cellCount(s, a); ++p) {
      CellView c;
      c.action = a;
      c.product = p;
      c.permitted = (d.permitted[a] >> p) & 1;
      c.denied = (d.denied[a] >> p) & 1;
      c.denyRule = c.denied ? d.denyRule[a * 64 + p] : -1;
      for (std::size_t l = 0; l < s.limits.size(); ++l) {
        std::size_t idx = l * d.actions * 64 + a * 64 + p;
        if (d.limitRule[idx] < 0) {
          c.limits.emplace_back();
        } else {
          c.limits.emplace_back(s.limits[l].type.kind == TypeKind::Decimal ? bundle::decimalOf(d.limit[idx])
                                                                           : static_cast<__int128>(d.limit[idx].a));
        }
      }
      c.aal = d.aal[a * 64 + p];
      c.authAgeMs = d.authAgeMs[a * 64 + p];
      v.cells.push_back(std::move(c));
    }
  }
  v.ttlCapMs = d.ttlCapMs;
  v.outcome = d.outcome;
  for (std::uint32_t i = 0; i < d.errorCount; ++i) {
    const auto& e = d.errors[i];
    v.errors.push_back(ErrorView{e.rule, e.error, e.error == vm::EvalError::Absent ? e.slot : 0});
  }
  v.errorsDropped = d.errorsDropped;
  return v;
}

std::string render(const Schema& s, const std::vector<std::string>& ids, const DecisionView& v) {
  std::string out;
  for (const auto& c : v.cells) {
    out += cellName(s, c.action, c.product) + ": " + (c.permitted ? "permitted" : "not-permitted") +
           (c.denied ? " denied by " + (c.denyRule >= 0 && c.denyRule < static_cast<int>(ids.size()) ? ids[c.denyRule] : "?") : "");
    for (std::size_t l = 0; l < c.limits.size() && l < s.limits.size(); ++l)
      if (c.limits[l]) out += " " + s.limits[l].name + "=" + limitValue(s, l, *c.limits[l]);
    if (c.aal > 0) out += " aal>=" + std::to_string(c.aal);
    if (c.authAgeMs >= 0) out += " auth_age<=" + std::to_string(c.authAgeMs) + "ms";
    out += "\n";
  }
  out += "ttl: " + (v.ttlCapMs < 0 ? std::string("none") : std::to_string(v.ttlCapMs) + "ms") + "\n";
  for (std::size_t i = 0; i < v.outcome.size(); ++i) {
    const char* o = v.outcome[i] == vm::Outcome::Fired ? "fired" : v.outcome[i] == vm::Outcome::Errored ? "error" : "n/a";
    out += "rule " + (i < ids.size() ? ids[i] : std::to_string(i)) + ": " + o + "\n";
  }
  for (const auto& e : v.errors) {
    out += "error " + (e.rule < ids.size() ? ids[e.rule] : std::to_string(e.rule)) + ": " + errorName(e.error);
    if (e.error == vm::EvalError::Absent && e.slot < s.attrs.size()) out += " " + s.attrs[e.slot].section + "." + s.attrs[e.slot].name;
    out += "\n";
  }
  if (v.errorsDropped > 0) out += "errors dropped: " + std::to_string(v.errorsDropped) + "\n";
  return out;
}

std::string lineDiff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& t) {
    std::vector<std::string> v;
    std::istringstream in(t);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  auto la = lines(a), lb = lines(b);
  std::string out;
  for (std::size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    std::string x = i < la.size() ? la[i] : "", y = i < lb.size() ? lb[i] : "";
    if (x == y) continue;
    out += "  line " + std::to_string(i + 1) + ":\n    - " + x + "\n    + " + y + "\n";
  }
  return out;
}

}  // namespace vmtest
