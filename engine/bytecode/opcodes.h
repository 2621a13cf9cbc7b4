#pragma once
// Opcodes, generated from ops.def.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mandate::bc {

enum class Operand : std::uint8_t { NONE, CONST, SLOT, JUMP, INT };

enum class Op : std::uint8_t {
#define OP(name, operand, pops, pushes, formula) name,
#include "bytecode/ops.def"
#undef OP
  kCount
};

struct OpInfo {
  std::string_view name;
  Operand operand;
  std::uint8_t pops;
  std::uint8_t pushes;
  std::string_view formula;
};

inline constexpr OpInfo kOpInfo[] = {
#define OP(name, operand, pops, pushes, formula) {#name, Operand::operand, pops, pushes, formula},
#include "bytecode/ops.def"
#undef OP
};
static_assert(std::size(kOpInfo) == static_cast<std::size_t>(Op::kCount), "ops.def and kOpInfo disagree");

inline const OpInfo& info(Op op) { return kOpInfo[static_cast<std::size_t>(op)]; }

// One fixed-width instruction.
struct Instr {
  Op op;
  std::uint8_t reserved[3] = {0, 0, 0};
  std::uint32_t a = 0;
};
static_assert(sizeof(Instr) == 8);

}  // namespace mandate::bc
