#include "syntax/parser.h"

#include <algorithm>
#include <exception>

#include "PolicyLexer.h"
#include "PolicyParser.h"
#include "antlr4-runtime.h"
#include "syntax/internal/ast_builder.h"
#include "syntax/internal/utf8.h"

namespace mandate {
namespace {

std::uint32_t tokenLength(const antlr4::Token* t) {
  if (t->getType() == antlr4::Token::EOF || t->getStopIndex() < t->getStartIndex()) return 1;
  return static_cast<std::uint32_t>(t->getStopIndex() - t->getStartIndex() + 1);
}

Span tokenSpan(FileId file, const antlr4::Token* t) {
  return Span{file, static_cast<std::uint32_t>(t->getLine()),
              static_cast<std::uint32_t>(t->getCharPositionInLine() + 1), tokenLength(t)};
}

// Printable form of a token for messages: control and invisible characters as U+XXXX.
std::string describeToken(const antlr4::Token* t) {
  if (t == nullptr) return "input";
  if (t->getType() == antlr4::Token::EOF) return "end of file";
  std::string text = t->getText();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "U+%04X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return "`" + out + "`";
}

std::string describeExpected(const antlr4::misc::IntervalSet& set, const antlr4::dfa::Vocabulary& vocab) {
  std::vector<std::string> names;
  for (auto t : set.toList()) {
    if (t == static_cast<decltype(t)>(antlr4::Token::EOF)) {
      names.push_back("end of file");
      continue;
    }
    if (t == PolicyLexer::ID) {
      names.push_back("a name");
      continue;
    }
    if (t == PolicyLexer::STRING) {
      names.push_back("a string");
      continue;
    }
    if (t == PolicyLexer::UNTERMINATED_STRING || t == PolicyLexer::ERROR_CHAR) continue;
    std::string lit = vocab.getLiteralName(t);
    if (lit.size() >= 2 && lit.front() == '\'') {
      names.push_back("`" + lit.substr(1, lit.size() - 2) + "`");
    } else {
      names.push_back("a " + std::string(vocab.getSymbolicName(t)));
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // A long list helps nobody; soft keywords alone add seven entries.
  if (names.empty() || names.size() > 8) return {};
  std::string out = "expected ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

struct StopParsing {};

class CollectingListener : public antlr4::BaseErrorListener {
 public:
  CollectingListener(Diagnostics& diags, FileId file, std::size_t cap)
      : diags_(diags), file_(file), cap_(cap) {}

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t, size_t,
                   const std::string& msg, std::exception_ptr e) override {
    ++count_;
    // One report per line: after a mistake, recovery often trips over the rest of the same
    // line ("unexpected `.`, expected `:`"), which only buries the real error.
    std::size_t line = offending != nullptr ? offending->getLine() : 0;
    if (reported_ > 0 && line == lastLine_) return;
    lastLine_ = line;
    if (++reported_ > cap_) {
      diags_.report(Code::E0105, tokenSpan(file_, offending),
                    "too many syntax errors in this file; stopping here");
      throw StopParsing{};
    }
    std::string message;
    std::string hint;
    if (msg.rfind("missing ", 0) == 0) {
      auto at = msg.find(" at ");
      std::string what = msg.substr(8, at == std::string::npos ? std::string::npos : at - 8);
      if (what.size() >= 2 && what.front() == '\'') what = what.substr(1, what.size() - 2);
      message = "missing `" + what + "` before " + describeToken(offending);
    } else {
      message = "unexpected " + describeToken(offending);
      auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
      if (parser != nullptr) {
        antlr4::misc::IntervalSet expected;
        try {
          if (e) std::rethrow_exception(e);
          expected = parser->getExpectedTokens();
        } catch (antlr4::RecognitionException& re) {
          expected = re.getExpectedTokens();
        } catch (...) {
        }
        hint = describeExpected(expected, parser->getVocabulary());
        if (std::string common = commonMistake(*parser, offending); !common.empty()) hint = common;
      }
    }
    diags_.report(Code::E0101, tokenSpan(file_, offending), message, hint);
  }

  std::size_t count() const { return count_; }

 private:
  Diagnostics& diags_;
  FileId file_;
  std::size_t cap_;
  std::size_t count_ = 0;     // every syntax error, reported or not
  std::size_t reported_ = 0;  // those reported (the cap counts these)
  std::size_t lastLine_ = 0;

  // The keyword of the rule that `t` follows (PERMIT, LIMIT, ...), or 0 when `t` is not
  // inside or right after a rule. Balanced braces (a match, a set) are skipped.
  static std::size_t enclosingRule(antlr4::Parser& parser, const antlr4::Token* t) {
    antlr4::TokenStream* tokens = parser.getTokenStream();
    int depth = 0;
    if (t->getTokenIndex() >= tokens->size()) return 0;  // a token the parser made up
    for (std::size_t i = t->getTokenIndex(); i-- > 0;) {
      const antlr4::Token* p = tokens->get(i);
      if (p->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
      switch (p->getType()) {
        case PolicyLexer::RBRACE: ++depth; break;
        case PolicyLexer::LBRACE:
          if (depth-- == 0) return 0;
          break;
        case PolicyLexer::SEMI:
          if (depth == 0) return 0;
          break;
        case PolicyLexer::PERMIT: case PolicyLexer::DENY: case PolicyLexer::LIMIT:
        case PolicyLexer::REQUIRE: case PolicyLexer::CAP:
          if (depth == 0) return p->getType();
          break;
        default: break;
      }
    }
    return 0;
  }

  // Hints for slips people make coming from other languages or from the design sketch.
  static std::string commonMistake(antlr4::Parser& parser, const antlr4::Token* t) {
    if (t == nullptr) return {};
    switch (t->getType()) {
      case PolicyLexer::ASSIGN: return "compare with `==`";
      case PolicyLexer::PIPE: return "write `or`";
      case PolicyLexer::EQ: case PolicyLexer::NE: case PolicyLexer::LT:
      case PolicyLexer::LE: case PolicyLexer::GT: case PolicyLexer::GE:
        return "comparisons do not chain: write `a < b and b < c`";
      case PolicyLexer::ON: {
        std::size_t rule = enclosingRule(parser, t);
        if (rule == PolicyLexer::LIMIT || rule == PolicyLexer::REQUIRE)
          return "the target of a limit or obligation follows `for`, e.g. `for trade on cfd`";
        if (rule == PolicyLexer::CAP) return "`cap ttl` applies to the whole token and takes no target";
        return {};
      }
      case PolicyLexer::STRING:
        if (enclosingRule(parser, t) != 0) return "a reason is written `because \"...\"`";
        return {};
      default: return {};
    }
  }
};

Span spanAtByte(const SourceFile& f, FileId id, std::size_t byte) {
  auto it = std::upper_bound(f.lineStarts.begin(), f.lineStarts.end(), static_cast<std::uint32_t>(byte));
  std::uint32_t line = static_cast<std::uint32_t>(it - f.lineStarts.begin());
  std::uint32_t col = 1;
  for (std::size_t i = f.lineStarts[line - 1]; i < byte; ++i) {
    if ((static_cast<unsigned char>(f.text[i]) & 0xC0) != 0x80) ++col;
  }
  return Span{id, line, col, 1};
}

// Lexical problems and nesting depth are checked on the token stream before parsing:
// the parser recurses once per nesting level, and an unterminated string would otherwise
// turn the rest of its line into a cascade of syntax errors.
bool prescan(antlr4::CommonTokenStream& tokens, FileId id, const ParseLimits& limits,
             Diagnostics& diags, ast::File& out) {
  bool ok = true;
  // Prefix `not` and `-` nest without brackets (`not not not x`), and the parser recurses for
  // each too: the depth counts open brackets, the prefix operators in front of each, and the
  // run of prefix operators just seen.
  std::size_t depth = 0;
  std::size_t prefixRun = 0;
  std::vector<std::size_t> openBrackets;  // per open bracket: the prefix operators before it
  auto deeper = [&](const antlr4::Token* t, std::size_t by, const char* what) {
    bool wasWithin = depth <= limits.maxNesting;
    depth += by;
    if (wasWithin && depth > limits.maxNesting) {
      diags.report(Code::E0104, tokenSpan(id, t),
                   std::string(what) + " nested deeper than " + std::to_string(limits.maxNesting) + " levels",
                   "split the expression into named constants");
      ok = false;
    }
  };
  std::size_t lastCodeLine = 0;
  const antlr4::Token* prevError = nullptr;
  for (antlr4::Token* t : tokens.getTokens()) {
    if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL && t->getType() != PolicyLexer::NOT &&
        t->getType() != PolicyLexer::MINUS && t->getType() != PolicyLexer::LPAREN &&
        t->getType() != PolicyLexer::LBRACE && prefixRun > 0) {
      depth -= prefixRun;  // the operand has begun: those operators no longer nest what follows
      prefixRun = 0;
    }
    switch (t->getType()) {
      case PolicyLexer::UNTERMINATED_STRING:
        diags.report(Code::E0102, tokenSpan(id, t), "unterminated string", "close the string with `\"` on the same line");
        ok = false;
        break;
      case PolicyLexer::ERROR_CHAR:
        // One report per line of bad characters, not one per byte of binary garbage.
        if (prevError == nullptr || prevError->getLine() != t->getLine()) {
          std::string c = t->getText();
          diags.report(Code::E0108, tokenSpan(id, t), "unexpected character " + describeToken(t),
                       c == "&"   ? "write `and`"
                       : c == "!" ? "write `not`, or `!=` to compare"
                       : c == "'" ? "strings are written in double quotes: \"...\""
                                  : "");
        }
        ok = false;
        break;
      case PolicyLexer::NOT:
      case PolicyLexer::MINUS:
        ++prefixRun;
        deeper(t, 1, "operators");
        break;
      case PolicyLexer::LPAREN:
      case PolicyLexer::LBRACE:
        openBrackets.push_back(prefixRun);  // already counted in depth; they stay open inside
        prefixRun = 0;
        deeper(t, 1, "brackets");
        break;
      case PolicyLexer::RPAREN:
      case PolicyLexer::RBRACE:
        if (!openBrackets.empty()) {
          depth -= 1 + openBrackets.back();
          openBrackets.pop_back();
        }
        break;
      case PolicyLexer::LINE_COMMENT: {
        std::string text = t->getText();
        while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
        out.comments.push_back({text, tokenSpan(id, t), lastCodeLine == t->getLine()});
        break;
      }
      default:
        break;
    }
    if (t->getType() == PolicyLexer::ERROR_CHAR) {
      prevError = t;
    }
    if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL && t->getType() != antlr4::Token::EOF) {
      lastCodeLine = t->getLine();
    }
    if (diags.capped()) return false;
  }
  return ok;
}

}  // namespace

ast::File parseFile(const SourceSet& sources, FileId id, Diagnostics& diags, const ParseLimits& limits) {
  ast::File out;
  out.id = id;
  const SourceFile& f = sources.file(id);
  if (f.text.size() > limits.maxFileBytes) {
    // Callers may stop reading at the limit, so the text's size is not the file's: say only
    // that it is too large.
    diags.report(Code::E0100, Span{id, 1, 1, 1},
                 "file is larger than the limit of " + std::to_string(limits.maxFileBytes) + " bytes",
                 "split it into files that import each other");
    return out;
  }
  if (auto bad = syntax::firstInvalidUtf8(f.text); bad != std::string_view::npos) {
    diags.report(Code::E0103, spanAtByte(f, id, bad), "invalid UTF-8 byte sequence",
                 "policy files must be UTF-8 text");
    return out;
  }
  try {
    antlr4::ANTLRInputStream input(f.text);
    PolicyLexer lexer(&input);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    if (!prescan(tokens, id, limits, diags, out)) return out;

    PolicyParser parser(&tokens);
    parser.removeErrorListeners();
    CollectingListener listener(diags, id, limits.maxSyntaxErrors);
    parser.addErrorListener(&listener);
    PolicyParser::File_Context* tree = nullptr;
    try {
      tree = parser.file_();
    } catch (StopParsing&) {
      return out;
    }
    if (listener.count() > 0) return out;
    if (!syntax::buildAst(tree, out, diags)) return out;
    out.parsed = true;
  } catch (const std::exception& e) {
    diags.report(Code::E0101, Span{id, 1, 1, 1}, std::string("the parser failed: ") + e.what());
  } catch (...) {
    diags.report(Code::E0101, Span{id, 1, 1, 1}, "the parser failed");
  }
  return out;
}

}  // namespace mandate
