#pragma once
// Checked AST -> bundle (constants, bytecode, rule table). Run only on a program that
// checked without errors; anything the compiler cannot lower is reported, never guessed.
#include <memory>

#include "bundle/bundle.h"
#include "check/program.h"

namespace mandate {

std::unique_ptr<bundle::Bundle> compileProgram(const Program& program, Diagnostics& diags);

}  // namespace mandate
