#pragma once
// The input frame: one value per schema attribute, filled once per request.
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bundle/bundle.h"

namespace mandate::vm {

struct Frame {
  std::vector<bundle::Value> slots;
  std::vector<std::uint8_t> present;
  bool hasNow = false;
  std::int64_t nowMs = 0;
  // Storage the slot values point into.
  std::deque<std::string> strings;
  std::deque<bundle::SetData> sets;
  std::deque<bundle::Cidr> cidrs;
};

struct FrameOptions {
  bool requireAll = true;  // a missing required attribute is an error (off for policy tests)
};

// Fills `frame` from {"subject":{...},"client":{...},"request":{...},"risk":{...},"now":"..."}.
// Every problem is reported, naming the attribute; returns false if there was any.
bool fillFrame(const Schema& schema, const nlohmann::json& input, Frame& frame, std::vector<std::string>& errors,
               const FrameOptions& options = {});

// Renders a value of type `t` for explanations and JSON output.
std::string formatValue(const Schema& schema, const Type& t, const bundle::Value& v);

}  // namespace mandate::vm
