#include "bytecode/disasm.h"

#include <algorithm>

#include "value/literals.h"
#include "vm/frame.h"

namespace mandate::bc {
namespace {

std::string cidrText(const bundle::Cidr& c) {
  bool v4 = c.hi == 0 && (c.lo >> 32) == 0xFFFF && c.prefix >= 96;
  bundle::Value ip{static_cast<std::int64_t>(c.hi), static_cast<std::int64_t>(c.lo)};
  Schema none;
  return vm::formatValue(none, Type::of(TypeKind::Ip), ip) + "/" + std::to_string(v4 ? c.prefix - 96 : c.prefix);
}

}  // namespace

std::string describeConstant(const bundle::Bundle& b, std::size_t i) {
  const bundle::Constant& c = b.constants[i];
  switch (c.kind) {
    case bundle::ConstKind::String: return "\"" + c.str + "\"";
    case bundle::ConstKind::Cidr: return cidrText(c.cidr);
    case bundle::ConstKind::EnumMask: {
      std::string out = "mask 0x";
      char buf[20];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(c.scalar.a));
      return out + buf;
    }
    case bundle::ConstKind::Set: {
      std::string out = std::string("set<") + typeKindName(c.set.elem) + "> {";
      std::size_t n = 0;
      if (c.set.elem == TypeKind::Cidr) {
        for (auto& cd : c.set.cidrs) out += (n++ ? ", " : "") + cidrText(cd);
      } else {
        for (auto& v : c.set.items) {
          if (n == 12) {
            out += ", ...";
            break;
          }
          out += (n++ ? ", " : "") + vm::formatValue(b.schema, Type::of(c.set.elem), v);
        }
      }
      return out + "}";
    }
    case bundle::ConstKind::Scalar:
      if (c.type == TypeKind::Enum) return "enum #" + std::to_string(c.scalar.a);
      return std::string(typeKindName(c.type)) + " " + vm::formatValue(b.schema, Type::of(c.type), c.scalar);
  }
  return "?";
}

std::string disassemble(const bundle::Bundle& b) {
  std::string out = "; bundle " + b.contentHash + "\n";
  out += "; " + std::to_string(b.rules.size()) + " rules, " + std::to_string(b.code.size()) + " instructions, " +
         std::to_string(b.constants.size()) + " constants, worst case " + std::to_string(b.worstCaseInstructions) +
         " instructions per decision, max stack " + std::to_string(b.maxStack) + "\n\n";
  out += "constants:\n";
  for (std::size_t i = 0; i < b.constants.size(); ++i) out += "  K" + std::to_string(i) + " = " + describeConstant(b, i) + "\n";
  auto listing = [&](std::uint32_t start, std::uint32_t len) {
    for (std::uint32_t pc = start; pc < start + len; ++pc) {
      const Instr& ins = b.code[pc];
      const OpInfo& info = bc::info(ins.op);
      char buf[32];
      std::snprintf(buf, sizeof buf, "  %05u  %-10s", pc, std::string(info.name).c_str());
      std::string line = buf;
      switch (info.operand) {
        case Operand::CONST: line += "K" + std::to_string(ins.a) + "  ; " + describeConstant(b, ins.a); break;
        case Operand::SLOT: {
          const AttrInfo& a = b.schema.attrs[ins.a];
          line += "IN" + std::to_string(ins.a) + "  ; " + a.section + "." + a.name;
          break;
        }
        case Operand::JUMP: line += "-> " + std::to_string(ins.a); break;
        case Operand::INT: line += std::to_string(ins.a); break;
        case Operand::NONE: break;
      }
      auto it = std::lower_bound(b.debug.begin(), b.debug.end(), pc,
                                 [](const bundle::DebugEntry& e, std::uint32_t x) { return e.pc < x; });
      if (it != b.debug.end() && it->pc == pc && info.operand != Operand::SLOT) line += "  ; " + it->text;
      out += line + "\n";
    }
  };
  for (const auto& r : b.rules) {
    out += "\nrule " + r.id + "  (" + bundle::ruleKindName(r.kind) + ", " + r.file + ":" + std::to_string(r.line) + ")";
    if (r.productDependent) out += "  per product class";
    out += "\n  target:";
    for (std::size_t a = 0; a < r.target.size(); ++a) {
      if (r.target[a] == 0) continue;
      char buf[24];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(r.target[a]));
      out += " " + b.schema.actions[a] + (b.schema.actionHasProducts[a] ? std::string("[0x") + buf + "]" : "");
    }
    if (r.limit >= 0) out += "\n  limit: " + b.schema.limits[r.limit].name;
    out += "\n";
    if (r.productFilter != ~0ULL) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(r.productFilter));
      out += "  product classes admitted: 0x" + std::string(buf) + "\n";
    }
    if (r.preLen > 0) {
      out += " when (once, before the product classes):\n";
      listing(r.preStart, r.preLen);
    }
    if (r.condLen > 0) {
      out += r.productDependent ? " when (per product class):\n" : " when:\n";
      listing(r.condStart, r.condLen);
    }
    if (r.maskLen > 0) {
      out += " when (mask over the product classes, run once):\n";
      listing(r.maskStart, r.maskLen);
    }
    if (r.valueLen > 0) {
      out += " value:\n";
      listing(r.valueStart, r.valueLen);
    }
  }
  return out;
}

}  // namespace mandate::bc
