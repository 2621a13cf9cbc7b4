#include "format/formatter.h"

#include <algorithm>

namespace mandate {
namespace {

using ast::Expr;
using ast::ExprKind;

class Formatter {
 public:
  Formatter(const ast::File& f, const SourceFile& src, const FormatOptions& o) : f_(f), src_(src), o_(o) {}

  std::string run() {
    std::uint32_t prevEnd = 0;
    int prevKind = -1;
    for (const auto& item : f_.items) {
      int kind = static_cast<int>(item.index());
      std::uint32_t start = startLine(item);
      bool groupable = kind == 0 || kind == 1;  // imports, consts
      bool blank = prevKind >= 0 && (!(groupable && kind == prevKind) || blankBetween(prevEnd, firstLineWithComments(start, prevEnd)));
      leadingComments(start, 0, blank);
      std::visit([&](const auto& x) { emit(x); }, item);
      prevEnd = endLine(item);
      prevKind = kind;
    }
    // Comments after the last item (with no such comments, no blank line: the file ends at `}`).
    std::uint32_t tail = firstLineWithComments(UINT32_MAX, prevEnd);
    bool blank = !out_.empty() && tail != UINT32_MAX && blankBetween(prevEnd, tail);
    leadingComments(UINT32_MAX, 0, blank);
    if (out_.empty()) return out_;
    return out_;
  }

 private:
  const ast::File& f_;
  const SourceFile& src_;
  const FormatOptions& o_;
  std::string out_;
  std::size_t nextComment_ = 0;

  static std::uint32_t startLine(const ast::Item& item) {
    return std::visit(
        [](const auto& x) -> std::uint32_t {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ast::ConstDecl> || std::is_same_v<T, ast::Import>) {
            return x.span.line;
          } else {
            return x.span.line;
          }
        },
        item);
  }
  static std::uint32_t endLine(const ast::Item& item) {
    return std::visit([](const auto& x) { return x.endLine; }, item);
  }

  bool blankBetween(std::uint32_t after, std::uint32_t before) const {
    for (std::uint32_t l = after + 1; l < before && l <= src_.lineStarts.size(); ++l) {
      std::string_view t = src_.lineText(l);
      if (t.find_first_not_of(" \t\r") == std::string_view::npos) return true;
    }
    return false;
  }

  // The first line of the comment block (if any) that leads an element starting at `start`.
  std::uint32_t firstLineWithComments(std::uint32_t start, std::uint32_t prevEnd) const {
    for (std::size_t i = nextComment_; i < f_.comments.size(); ++i) {
      const auto& c = f_.comments[i];
      if (c.span.line >= start) break;
      if (c.trailing && c.span.line <= prevEnd) continue;
      return c.span.line;
    }
    return start;
  }

  void line(int indent, const std::string& text) {
    out_.append(static_cast<std::size_t>(indent), ' ');
    out_ += text;
    out_ += '\n';
  }

  // Emits comments before `start`: trailing ones glued to the previous line, the others on
  // their own lines. A blank line goes before the first own-line comment or the element.
  void leadingComments(std::uint32_t start, int indent, bool blank) {
    bool blankDone = false;
    auto doBlank = [&] {
      if (blank && !blankDone && !out_.empty()) out_ += '\n';
      blankDone = true;
    };
    bool glued = false;
    std::uint32_t prevLine = 0;  // source line of the last own-line comment written
    while (nextComment_ < f_.comments.size() && f_.comments[nextComment_].span.line < start) {
      const auto& c = f_.comments[nextComment_++];
      if (c.trailing && !glued && !out_.empty() && out_.back() == '\n' && !blankDone) {
        out_.insert(out_.size() - 1, "  " + c.text);
        glued = true;
        continue;
      }
      // A blank line the source had between comments, or after them, is kept (one at most).
      if (prevLine != 0 && blankBetween(prevLine, c.span.line)) out_ += '\n';
      doBlank();
      line(indent, c.text);
      prevLine = c.span.line;
    }
    if (prevLine != 0 && start != UINT32_MAX && blankBetween(prevLine, start)) out_ += '\n';
    doBlank();
  }

  // Comments inside an element that ended before `end` (e.g. at the end of a block).
  void closingComments(std::uint32_t end, int indent) {
    bool glued = false;
    while (nextComment_ < f_.comments.size() && f_.comments[nextComment_].span.line < end) {
      const auto& c = f_.comments[nextComment_++];
      if (c.trailing && !glued && !out_.empty() && out_.back() == '\n') {
        out_.insert(out_.size() - 1, "  " + c.text);
        glued = true;
        continue;
      }
      line(indent, c.text);
    }
    // A trailing comment on the closing line itself is left for the caller to put after the
    // closing brace: gluing it here would append it to the previous line (e.g. onto an
    // own-line comment, merging the two into one comment).
  }

  void trailingOn(std::uint32_t lineNo) {
    if (nextComment_ < f_.comments.size() && f_.comments[nextComment_].span.line == lineNo &&
        f_.comments[nextComment_].trailing && !out_.empty() && out_.back() == '\n') {
      out_.insert(out_.size() - 1, "  " + f_.comments[nextComment_].text);
      ++nextComment_;
    }
  }

  // ---- items -------------------------------------------------------------

  void emit(const ast::Import& i) {
    line(0, "import " + ast::escapeString(i.path) + ";");
    trailingOn(i.endLine);
  }

  void emit(const ast::ConstDecl& c) {
    std::string head = "const " + c.name.text + (c.declared ? ": " + typeRef(*c.declared) : "") + " = ";
    line(0, head + expr(*c.value, 0, head.size() + 1) + ";");  // + 1: the `;`
    trailingOn(c.endLine);
  }

  static std::string typeRef(const ast::TypeRef& t) {
    return t.name.text + (t.arg ? "<" + typeRef(*t.arg) + ">" : "");
  }

  static std::string names(const std::vector<ast::Name>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i].text;
    return out;
  }

  void section(const ast::SectionDecl& s, int indent) {
    line(indent, s.name.text + " {");
    std::uint32_t prev = s.span.line;
    for (const auto& a : s.attrs) {
      leadingComments(a.span.line, indent + 2, blankBetween(prev, firstLineWithComments(a.span.line, prev)));
      line(indent + 2, std::string(a.optional ? "optional " : "") + a.name.text + ": " + typeRef(a.type));
      trailingOn(a.endLine);
      prev = a.endLine;
    }
    closingComments(s.endLine, indent + 2);
    line(indent, "}");
    trailingOn(s.endLine);
  }

  void emit(const ast::SchemaDecl& s) {
    line(0, "schema {");
    std::uint32_t prev = s.span.line;
    for (auto [kind, idx] : s.order) {
      using K = ast::SchemaDecl::ItemKind;
      std::uint32_t start = 0, end = 0;
      switch (kind) {
        case K::Enum: start = s.enums[idx].span.line; end = s.enums[idx].endLine; break;
        case K::Actions: start = s.actionsSpan.line; end = start; break;
        case K::Products: start = s.productsSpan.line; end = start; break;
        case K::Limits: start = s.limits->span.line; end = s.limits->endLine; break;
        case K::Section: start = s.sections[idx].span.line; end = s.sections[idx].endLine; break;
      }
      leadingComments(start, 2, blankBetween(prev, firstLineWithComments(start, prev)));
      switch (kind) {
        case K::Enum: {
          const auto& e = s.enums[idx];
          std::string flat = "enum " + e.name.text + " { " + names(e.values) + " }";
          if (flat.size() + 2 <= o_.width) {
            line(2, flat);
          } else {
            line(2, "enum " + e.name.text + " {");
            fill(4, e.values);
            line(2, "}");
          }
          break;
        }
        case K::Actions: {
          std::string flat = "actions { " + names(*s.actions) + " }";
          if (flat.size() + 2 <= o_.width) {
            line(2, flat);
          } else {
            line(2, "actions {");
            fill(4, *s.actions);
            line(2, "}");
          }
          break;
        }
        case K::Products:
          line(2, "products " + s.productsEnum->text + (s.productActions.empty() ? "" : " on " + names(s.productActions)));
          break;
        case K::Limits: section(*s.limits, 2); break;
        case K::Section: section(s.sections[idx], 2); break;
      }
      trailingOn(end);
      prev = end;
    }
    closingComments(s.endLine, 2);
    line(0, "}");
    trailingOn(s.endLine);
  }

  // Names filled onto lines of at most `width` columns, comma separated.
  void fill(int indent, const std::vector<ast::Name>& v) {
    std::string cur;
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::string piece = v[i].text + (i + 1 < v.size() ? "," : "");
      if (!cur.empty() && indent + cur.size() + 1 + piece.size() > o_.width) {
        line(indent, cur);
        cur.clear();
      }
      cur += (cur.empty() ? "" : " ") + piece;
    }
    if (!cur.empty()) line(indent, cur);
  }

  static std::string target(const ast::Target& t) {
    std::string out = t.allActions ? "all" : names(t.actions);
    if (t.hasProducts) out += " on " + (t.allProducts ? std::string("all") : names(t.products));
    return out;
  }

  void emitRule(const ast::Rule& r, int indent) {
    std::string head = r.label ? r.label->text + ": " : "";
    switch (r.kind) {
      case ast::RuleKind::Permit: head += "permit " + target(*r.target); break;
      case ast::RuleKind::Deny: head += "deny " + target(*r.target); break;
      case ast::RuleKind::Limit: head += "limit " + r.limitName.text + " = "; break;
      case ast::RuleKind::Require:
        head += "require " + r.limitName.text + " " + ast::spelling(r.requireOp) + " ";
        break;
      case ast::RuleKind::CapTtl: head += "cap ttl "; break;
    }
    if (r.value) {
      // The value must leave room for what follows it on its (last) line: ` for TARGET;`.
      std::string forTarget = r.target ? " for " + target(*r.target) : "";
      head += expr(*r.value, indent, indent + head.size() + forTarget.size() + 1);
      head += forTarget;
    }
    std::string when = r.when ? "when " + flat(*r.when) : "";
    std::string because = r.because ? "because " + ast::escapeString(r.because->text) : "";
    std::string one = head + (when.empty() ? "" : " " + when) + (because.empty() ? "" : " " + because) + ";";
    if (head.find('\n') == std::string::npos && indent + one.size() <= o_.width) {
      line(indent, one);
      return;
    }
    std::vector<std::string> parts;
    parts.push_back(head);
    if (r.when) parts.push_back("when " + expr(*r.when, indent + 2, indent + 2 + 5));
    if (!because.empty()) parts.push_back(because);
    parts.back() += ";";
    line(indent, parts[0]);
    for (std::size_t i = 1; i < parts.size(); ++i) line(indent + 2, parts[i]);
  }

  void emit(const ast::Policy& p) {
    line(0, "policy " + p.name.text + (p.title ? " " + ast::escapeString(p.title->text) : "") + " {");
    std::uint32_t prev = p.span.line;
    bool prevWasRule = false;
    bool first = true;
    for (auto [isRule, idx] : p.order) {
      std::uint32_t start = isRule ? p.rules[idx].span.line : p.meta[idx].span.line;
      std::uint32_t end = isRule ? p.rules[idx].endLine : p.meta[idx].endLine;
      bool blank = (!first && isRule != prevWasRule) || blankBetween(prev, firstLineWithComments(start, prev));
      leadingComments(start, 2, blank && !first);
      if (isRule) {
        emitRule(p.rules[idx], 2);
      } else {
        const auto& m = p.meta[idx];
        line(2, m.key + " " + ast::escapeString(m.value.text));
      }
      trailingOn(end);
      prev = end;
      prevWasRule = isRule;
      first = false;
    }
    closingComments(p.endLine, 2);
    line(0, "}");
    trailingOn(p.endLine);
  }

  void emit(const ast::TestDecl& t) {
    line(0, "test " + ast::escapeString(t.name.text) + " {");
    std::uint32_t prev = t.span.line;
    bool first = true;
    for (auto [isExpect, idx] : t.order) {
      std::uint32_t start = isExpect ? t.expects[idx].span.line : t.givens[idx].span.line;
      std::uint32_t end = isExpect ? t.expects[idx].endLine : t.givens[idx].endLine;
      leadingComments(start, 2, !first && blankBetween(prev, firstLineWithComments(start, prev)));
      if (isExpect) {
        emitExpect(t.expects[idx]);
      } else {
        emitGiven(t.givens[idx]);
      }
      trailingOn(end);
      prev = end;
      first = false;
    }
    closingComments(t.endLine, 2);
    line(0, "}");
    trailingOn(t.endLine);
  }

  void emitGiven(const ast::Given& g) {
    if (g.value) {
      line(2, "given " + g.section.text + " = " + flat(*g.value));
      return;
    }
    std::vector<std::string> fields;
    for (const auto& f : g.fields) fields.push_back(f.name.text + ": " + flat(*f.value));
    std::string one = "given " + g.section.text + " {";
    std::string joined;
    for (std::size_t i = 0; i < fields.size(); ++i) joined += (i ? ", " : "") + fields[i];
    if (fields.empty()) {
      line(2, one + "}");
    } else if (2 + one.size() + joined.size() + 3 <= o_.width) {
      line(2, one + " " + joined + " }");
    } else {
      line(2, one);
      for (const auto& f : fields) line(4, f + ",");
      line(2, "}");
    }
  }

  void emitExpect(const ast::Expect& e) {
    switch (e.kind) {
      case ast::Expect::Kind::Permit: line(2, "expect permit " + target(e.target)); break;
      case ast::Expect::Kind::Deny: line(2, "expect deny " + target(e.target)); break;
      case ast::Expect::Kind::Limit:
        line(2, "expect limit " + e.name.text + " for " + target(e.target) + " " + ast::spelling(e.op) + " " + flat(*e.value));
        break;
      case ast::Expect::Kind::Obligation:
        line(2, "expect obligation " + e.name.text + " " + ast::spelling(e.op) + " " + flat(*e.value) +
                    (e.hasTarget ? " for " + target(e.target) : ""));
        break;
    }
  }

  // ---- expressions ---------------------------------------------------------

  static std::string flat(const Expr& e) {
    switch (e.kind) {
      case ExprKind::String: return ast::escapeString(e.text);
      case ExprKind::Int:
      case ExprKind::Decimal:
      case ExprKind::Duration:
      case ExprKind::Time:
      case ExprKind::Ip:
      case ExprKind::Cidr:
      case ExprKind::Region:
      case ExprKind::Bool:
      case ExprKind::Name: return e.text;
      case ExprKind::Product: return "product";
      case ExprKind::Attr: return e.section + "." + e.text;
      case ExprKind::Has: return "has " + e.section + "." + e.text;
      case ExprKind::Set: {
        std::string out = "{";
        for (std::size_t i = 0; i < e.kids.size(); ++i) out += (i ? ", " : "") + flat(*e.kids[i]);
        return out + "}";
      }
      case ExprKind::Match: {
        std::string out = "match " + flat(*e.kids[0]) + " { ";
        for (std::size_t i = 0; i < e.arms.size(); ++i) out += (i ? ", " : "") + arm(e.arms[i], flat(*e.arms[i].result));
        return out + " }";
      }
      case ExprKind::Unary:
        return e.unop == ast::UnOp::Not ? "not " + flat(*e.kids[0]) : "-" + flat(*e.kids[0]);
      case ExprKind::Binary:
        return flat(*e.kids[0]) + " " + ast::spelling(e.binop) + " " + flat(*e.kids[1]);
      case ExprKind::Paren: return "(" + flat(*e.kids[0]) + ")";
    }
    return {};
  }

  static std::string arm(const ast::MatchArm& a, const std::string& result) {
    std::string out;
    for (std::size_t i = 0; i < a.patterns.size(); ++i) {
      out += i ? " | " : "";
      out += a.patterns[i].isDefault ? "_" : flat(*a.patterns[i].value);
    }
    return out + " => " + result;
  }

  static void chain(const Expr& e, ast::BinOp op, std::vector<const Expr*>& out) {
    if (e.kind == ExprKind::Binary && e.binop == op) {
      chain(*e.kids[0], op, out);
      chain(*e.kids[1], op, out);
    } else {
      out.push_back(&e);
    }
  }

  // An expression starting at column `col` in a block indented by `indent`; broken over
  // lines (continuations at indent + 2) when it does not fit.
  std::string expr(const Expr& e, int indent, std::size_t col) {
    std::string f = flat(e);
    if (col + f.size() <= o_.width) return f;
    std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    std::string closePad(static_cast<std::size_t>(indent), ' ');
    switch (e.kind) {
      case ExprKind::Match: {
        std::string out = "match " + flat(*e.kids[0]) + " {\n";
        for (const auto& a : e.arms) out += pad + arm(a, expr(*a.result, indent + 2, pad.size() + 8)) + ",\n";
        return out + closePad + "}";
      }
      case ExprKind::Set: {
        std::string out = "{\n";
        std::string cur;
        for (std::size_t i = 0; i < e.kids.size(); ++i) {
          std::string piece = flat(*e.kids[i]) + ",";
          if (!cur.empty() && pad.size() + cur.size() + 1 + piece.size() > o_.width) {
            out += pad + cur + "\n";
            cur.clear();
          }
          cur += (cur.empty() ? "" : " ") + piece;
        }
        if (!cur.empty()) out += pad + cur + "\n";
        return out + closePad + "}";
      }
      case ExprKind::Binary:
        if (e.binop == ast::BinOp::And || e.binop == ast::BinOp::Or) {
          std::vector<const Expr*> parts;
          chain(e, e.binop, parts);
          std::string op = ast::spelling(e.binop);
          std::string out = expr(*parts[0], indent, col);
          for (std::size_t i = 1; i < parts.size(); ++i) {
            out += "\n" + pad + op + " " + expr(*parts[i], indent + 2, pad.size() + op.size() + 1);
          }
          return out;
        }
        // A comparison with a set or match on the right (`x in {...}`) breaks that operand.
        if (e.kids[1]->kind == ExprKind::Set || e.kids[1]->kind == ExprKind::Match) {
          std::string left = flat(*e.kids[0]) + " " + ast::spelling(e.binop) + " ";
          return left + expr(*e.kids[1], indent, col + left.size());
        }
        return f;
      default:
        return f;
    }
  }
};

}  // namespace

std::string formatFile(const ast::File& file, const SourceFile& source, const FormatOptions& options) {
  return Formatter(file, source, options).run();
}

}  // namespace mandate
